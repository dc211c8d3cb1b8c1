/**
 * A real `nats-server -js` for tests: on a free loopback port (the server picks it, `-p -1`, and prints it),
 * with its own temporary store directory, stopped and removed afterwards. `.ci/run` installs Debian's
 * `nats-server` when it is missing; tests never mock NATS.
 *
 * @module
 */
import { StopWaiting, waitFor } from "./wait.ts";

/** True when a `nats-server` binary is on the PATH. */
export function natsServerAvailable(): boolean {
  try {
    return new Deno.Command("nats-server", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * `Deno.test` options of a test that needs a nats-server: skipped with a note where there is none (never in
 * CI, where `.ci/run` installs it), and without the op/resource sanitizers (the NATS client keeps timers).
 */
export function natsTestOptions(name: string) {
  const available = natsServerAvailable();
  return {
    name: available ? name : `${name} — skipped: no nats-server on the PATH (apt-get install nats-server)`,
    ignore: !available && Deno.env.get("CI") === undefined,
    sanitizeOps: false,
    sanitizeResources: false,
  };
}

/** One running nats-server with JetStream. */
export class NatsServer {
  readonly lines: string[] = [];
  #child: Deno.ChildProcess | null = null;
  #exited = false;
  port = 0;

  private constructor(readonly storeDir: string, readonly args: readonly string[]) {}

  /**
   * Starts a server with JetStream on 127.0.0.1 and waits until it accepts clients; `args` go to nats-server
   * too (e.g. `--user u --pass p`).
   */
  static async start(args: readonly string[] = []): Promise<NatsServer> {
    const server = new NatsServer(await Deno.makeTempDir({ prefix: "hlbook-nats-" }), args);
    try {
      await server.#spawn(-1);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async #spawn(port: number): Promise<void> {
    const child = new Deno.Command("nats-server", {
      args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", this.storeDir, ...this.args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#exited = false;
    const from = this.lines.length;
    void child.status.then(() => (this.#exited = true));
    for (const stream of [child.stdout, child.stderr]) void this.#collect(stream);
    this.port = await waitFor("nats-server to listen", () => {
      for (const line of this.lines.slice(from)) {
        const match = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(line);
        if (match) return Number(match[1]);
      }
      if (this.#exited) throw new StopWaiting(`nats-server exited:\n${this.lines.slice(from).join("\n")}`);
      return 0;
    }, 10_000);
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.lines.push(...chunk.split("\n").filter((line) => line.length > 0));
      }
    } catch {
      // the process went away
    }
  }

  /** Kills the server (SIGKILL: an outage, not a shutdown); the store stays for {@link restart}. */
  async kill(): Promise<void> {
    if (this.#child === null || this.#exited) return;
    this.#child.kill("SIGKILL");
    await this.#child.status;
  }

  /** Starts the server again on the same port with the same store. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn(this.port);
  }

  /** Stops the server and removes its store. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child !== null && !this.#exited) {
      const kill = (signal: Deno.Signal) => {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      };
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 3000);
      await child.status;
      clearTimeout(timer);
    }
    await Deno.remove(this.storeDir, { recursive: true }).catch(() => {});
  }
}
