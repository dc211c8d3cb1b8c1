/**
 * `deno task demo`: the whole pipeline with no Hyperliquid node. Starts the simulated node
 * (`src/sim/cli.ts`) and the hlbook server (`main.ts`) as two subprocesses (two processes use two cores)
 * on a temporary data dir, waits until the book is live, prints the page and WebSocket URLs, and on
 * Ctrl-C / SIGTERM stops both and removes the temp dir.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { pruneHourlyFiles } from "./src/sim/mod.ts";

const HELP = `deno task demo [flags]: hlbook on a simulated node, one command

  --port N     page / WebSocket port (default 8000 if free, else any free port)
  --coins N    number of markets: BTC ETH SOL HYPE MEME @107 PURR/USDC, then synthetic (default 7)
  --rate N     blocks per second (default 15)
  --load X     multiplier of mainnet-like event rates (1 ≈ mainnet BTC flow, ~800 order statuses per
               block, ~6 MB/s of node files in the temp dir; 10 = ten times that). Default 0.2.
  --seed N     simulator seed (default: random)
  --keep-hours N  hourly node files kept per stream in the temp dir; older ones are deleted, as the
               node's own pruning does (default 2, at least 2)
  -h, --help   this text`;

const SIM = fileURLToPath(new URL("./src/sim/cli.ts", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
/** How often the temp dir is pruned to the last `--keep-hours` hourly files. */
const PRUNE_EVERY_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** A free loopback port (the kernel picks it; closed again right away). */
function freePort(preferred?: number): number {
  for (const port of preferred === undefined ? [0] : [preferred, 0]) {
    try {
      const listener = Deno.listen({ hostname: "127.0.0.1", port });
      const chosen = (listener.addr as Deno.NetAddr).port;
      listener.close();
      return chosen;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("no free port");
}

function flag(name: string, text: string | undefined, check: (n: number) => boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`--${name}: invalid value ${JSON.stringify(text)}`);
  return n;
}

async function waitReady(port: number, child: Deno.ChildProcess, sim: Deno.ChildProcess): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  const done = Promise.race([child.status, sim.status]).then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      const health = await response.json();
      if (health?.ready === true) return true;
    } catch {
      // not listening yet
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, 200))]);
  }
  return false;
}

async function waitListening(port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    return; // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), STOP_TIMEOUT_MS)));
  const result = await Promise.race([child.status, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone meanwhile
    }
    await child.status;
  }
}

async function main(): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        port: { type: "string" },
        coins: { type: "string" },
        rate: { type: "string" },
        load: { type: "string" },
        seed: { type: "string" },
        "keep-hours": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    options = {
      port: flag("port", values.port, (n) => Number.isInteger(n) && n >= 0 && n < 65536),
      coins: flag("coins", values.coins, (n) => Number.isInteger(n) && n >= 1 && n <= 5000) ?? 7,
      rate: flag("rate", values.rate, (n) => n > 0 && n <= 1000) ?? 15,
      load: flag("load", values.load, (n) => n >= 0) ?? 0.2,
      seed: flag("seed", values.seed, Number.isInteger) ?? Math.floor(Math.random() * 2 ** 31),
      keepHours: flag("keep-hours", values["keep-hours"], (n) => Number.isInteger(n) && n >= 2) ?? 2,
    };
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }

  const dir = await Deno.makeTempDir({ prefix: "hlbook-demo-" });
  try {
    return await run(dir, options);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch((error) => {
      console.error(`demo: could not remove ${dir}: ${error.message}`);
    });
  }
}

interface DemoOptions {
  readonly port: number | undefined;
  readonly coins: number;
  readonly rate: number;
  readonly load: number;
  readonly seed: number;
  readonly keepHours: number;
}

async function run(dir: string, options: DemoOptions): Promise<number> {
  const dataDir = join(dir, "data");
  const infoPort = freePort();
  const port = options.port === undefined || options.port === 0
    ? freePort(options.port ?? 8000)
    : options.port;
  if (options.port === undefined && port !== 8000) {
    console.log(`demo: port 8000 is in use; serving on port ${port} instead (--port N picks one)`);
  }
  const deno = Deno.execPath();
  const children: Deno.ChildProcess[] = [];
  let stopping = false;
  let exitCode = 0;
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => {
    if (!stopping) console.log("\ndemo: stopping the server and the simulated node…");
    stopping = true;
    stopped.resolve();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const sim = new Deno.Command(deno, {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-net=127.0.0.1",
        "--allow-env",
        SIM,
        `--data-dir=${dataDir}`,
        `--info-port=${infoPort}`,
        `--coins=${options.coins}`,
        `--rate=${options.rate}`,
        `--load=${options.load}`,
        `--seed=${options.seed}`,
      ],
      stdin: "null",
    }).spawn();
    children.push(sim);
    // start the server once the node's info server listens, so its first snapshot request succeeds
    await Promise.race([waitListening(infoPort), stopped.promise]);
    const server = new Deno.Command(deno, {
      args: [
        "run",
        "--allow-read",
        "--allow-net",
        "--allow-env=HLBOOK_*,HOME,NO_COLOR", // as `deno task start`
        MAIN,
        `--data-dir=${dataDir}`,
        `--info-url=http://127.0.0.1:${infoPort}/info`,
        `--snapshot-path=${join(dir, "snapshot.json")}`,
        `--port=${port}`,
        "--address=127.0.0.1",
      ],
      stdin: "null",
    }).spawn();
    children.push(server);
    for (const [name, child] of [["hlbook server", server], ["simulated node", sim]] as const) {
      child.status.then((status) => {
        if (stopping) return;
        // Ctrl-C in a terminal signals the whole process group: a child may see it before we do.
        if (status.success) console.log(`demo: the ${name} stopped`);
        else {
          console.error(`demo: the ${name} exited unexpectedly (code ${status.code})`);
          exitCode = 1;
        }
        stopped.resolve();
      });
    }

    const pruner = setInterval(() => {
      pruneHourlyFiles(dataDir, options.keepHours).catch((error) => {
        console.error(`demo: could not prune ${dataDir}: ${error.message}`);
      });
    }, PRUNE_EVERY_MS);
    stopped.promise.then(() => clearInterval(pruner));
    const ready = await Promise.race([waitReady(port, server, sim), stopped.promise.then(() => false)]);
    if (ready) {
      console.log(
        `\nhlbook demo is live on a simulated node (${options.coins} coins, ${options.rate} blocks/s, ` +
          `load ${options.load}, seed ${options.seed})\n` +
          `  page:      http://127.0.0.1:${port}/\n` +
          `  websocket: ws://127.0.0.1:${port}/ws\n` +
          `  data dir:  ${dataDir} (the last ${options.keepHours} hourly files kept; removed on exit)\n` +
          `Press Ctrl-C to stop.\n`,
      );
    } else if (!stopping && exitCode === 0) {
      console.error(`demo: the server did not become ready within ${READY_TIMEOUT_MS / 1000} s`);
      exitCode = 1;
      stopped.resolve();
    }
    await stopped.promise;
  } catch (error) {
    console.error(`demo: ${(error as Error).message}`);
    exitCode = 1;
  } finally {
    stopping = true;
    await Promise.all(children.map(stopChild));
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return exitCode;
}

if (import.meta.main) Deno.exit(await main());
