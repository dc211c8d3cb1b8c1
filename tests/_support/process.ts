/**
 * A Deno subprocess for process-level tests: output collected line by line (stdout and stderr), bounded waits
 * for a line, and a stop that always ends it (SIGTERM, then SIGKILL after a grace). Servers started this way
 * bind port 0 and report the port they got in a line, which the test reads: no port is guessed in advance.
 *
 * @module
 */
import { StopWaiting, waitFor } from "./wait.ts";

/** The repository's root directory. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** How a {@link Subprocess} is started. */
export interface SpawnOptions {
  /** Added to the test's own environment. */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Rewrites each line as it is kept (e.g. JSON log records to `LEVEL logger: message`). */
  readonly readable?: (line: string) => string;
}

/** One `deno …` child process. */
export class Subprocess {
  readonly lines: string[] = [];
  readonly child: Deno.ChildProcess;
  /** Resolves when the process has exited and its output has been read to the end. */
  readonly done: Promise<Deno.CommandStatus>;
  exited: Deno.CommandStatus | null = null;
  readonly #readable: (line: string) => string;

  /** Runs `deno ARGS…` with piped output and no input. */
  constructor(args: readonly string[], options: SpawnOptions = {}) {
    this.#readable = options.readable ?? ((line) => line);
    this.child = new Deno.Command(Deno.execPath(), {
      args: [...args],
      cwd: options.cwd ?? ROOT,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collected = [this.#collect(this.child.stdout), this.#collect(this.child.stderr)];
    this.done = Promise.all(collected).then(() => this.child.status).then((status) => (this.exited = status));
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        for (const part of parts) this.lines.push(this.#readable(part));
      }
    } catch {
      // the process went away
    }
    if (rest) this.lines.push(this.#readable(rest));
  }

  get pid(): number {
    return this.child.pid;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.exited === null;
  }

  /** Everything it printed so far (for failure messages). */
  get output(): string {
    return this.lines.join("\n");
  }

  /** Output lines from index `from` on that match `pattern`. */
  matching(pattern: RegExp, from = 0): string[] {
    return this.lines.slice(from).filter((line) => pattern.test(line));
  }

  /** The first line matching `pattern`; throws when the process exits first or after `timeoutMs`. */
  line(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return waitFor(`a line matching ${pattern}`, () => {
      const found = this.lines.find((line) => pattern.test(line));
      if (found !== undefined) return found;
      if (this.exited) {
        throw new StopWaiting(`exited (${this.exited.code}) first:\n${this.output.slice(-4000)}`);
      }
      return null;
    }, timeoutMs);
  }

  /** The port in the first `http://HOST:PORT/` URL of a line matching `pattern` (a server's listening line). */
  async port(pattern: RegExp, timeoutMs = 30_000): Promise<number> {
    const line = await this.line(pattern, timeoutMs);
    const port = Number(/http:\/\/[^\s/]*:(\d+)\//.exec(line)?.[1]);
    if (!(port > 0)) throw new Error(`no port in ${JSON.stringify(line)}`);
    return port;
  }

  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and returns how it exited. */
  async stop(graceMs = 3000): Promise<Deno.CommandStatus> {
    if (this.exited) return this.exited;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, graceMs);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * `demo.ts` (simulated node + hlbook) on `port` (default 0: any free port; null: no `--port`, the demo's own
 * default), once it says it serves a book; the port is read from what it prints.
 */
export async function startDemo(
  args: readonly string[] = [],
  options: { port?: number | null; timeoutMs?: number; permissions?: readonly string[] } = {},
): Promise<{ process: Subprocess; port: number; url: string }> {
  const demo = new Subprocess([
    "run",
    ...(options.permissions ?? ["--allow-all"]),
    `${ROOT}demo.ts`,
    ...(options.port === null ? [] : [`--port=${options.port ?? 0}`]),
    ...args,
  ], { env: { NO_COLOR: "1" } });
  try {
    const port = await demo.port(/page: +http:\/\//, options.timeoutMs ?? 40_000);
    return { process: demo, port, url: `http://127.0.0.1:${port}/` };
  } catch (error) {
    await demo.stop();
    throw error;
  }
}
