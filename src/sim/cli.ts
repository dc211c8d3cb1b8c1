/**
 * `deno task sim`: the simulated node alone — writes node files into a data dir and answers the info
 * server's snapshot request, for pointing a separately started hlbook at it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { setupLogging } from "../log.ts";
import { startSimNode } from "./node.ts";

const HELP = `deno task sim [flags]: a simulated Hyperliquid node (no real node needed)

  --data-dir DIR     where the node files go (default: a new temp dir, printed)
  --info-port N      info server port, 0 = any free port (default 3001)
  --rate N           blocks per second (default 15)
  --load X           multiplier of mainnet-like event rates (default 1)
  --coins N          number of markets: 7 defaults, then synthetic COIN007… (default 7)
  --seed N           PRNG seed (default 1)
  --streaming        also write the node_*_streaming files
  --no-stagger       write each block's three lines at once (default: at different moments, each line
                     in two parts, as a live node does)
  --snapshot-delay MS  write info-server snapshots MS later, lagging the files' head (default 0)
  --duration S       stop after S seconds (default: run until Ctrl-C)
  --start-time ISO   simulated time of the first block (default now), e.g. 2026-05-05T17:59:58Z
  -h, --help         this text`;

function number(
  name: string,
  text: string | undefined,
  fallback: number,
  check: (n: number) => boolean,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`--${name}: invalid value ${JSON.stringify(text)}`);
  return n;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        "data-dir": { type: "string" },
        "info-port": { type: "string" },
        rate: { type: "string" },
        load: { type: "string" },
        coins: { type: "string" },
        seed: { type: "string" },
        streaming: { type: "boolean" },
        stagger: { type: "boolean", default: true },
        duration: { type: "string" },
        "snapshot-delay": { type: "string" },
        "start-time": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowNegative: true,
    }));
  } catch (error) {
    // deno-lint-ignore no-console
    console.error(`sim: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    // deno-lint-ignore no-console
    console.log(HELP);
    return 0;
  }
  let options;
  try {
    const startTime = values["start-time"] === undefined ? undefined : Date.parse(values["start-time"]);
    if (startTime !== undefined && Number.isNaN(startTime)) throw new Error("--start-time: not a date");
    options = {
      infoPort: number(
        "info-port",
        values["info-port"],
        3001,
        (n) => Number.isInteger(n) && n >= 0 && n < 65536,
      ),
      rate: number("rate", values.rate, 15, (n) => n > 0 && n <= 1000),
      load: number("load", values.load, 1, (n) => n >= 0),
      coins: number("coins", values.coins, 7, (n) => Number.isInteger(n) && n >= 1 && n <= 5000),
      seed: number("seed", values.seed, 1, Number.isInteger),
      duration: number("duration", values.duration, 0, (n) => n >= 0),
      snapshotDelayMs: number("snapshot-delay", values["snapshot-delay"], 0, (n) => n >= 0 && n <= 600_000),
      startTime,
    };
  } catch (error) {
    // deno-lint-ignore no-console
    console.error(`sim: ${(error as Error).message}`);
    return 2;
  }
  await setupLogging("info", "pretty");
  const ownDir = values["data-dir"] === undefined;
  const dataDir = values["data-dir"] ?? await Deno.makeTempDir({ prefix: "hlbook-sim-" });
  const node = await startSimNode({
    ...options,
    dataDir,
    streaming: values.streaming ?? false,
    stagger: values.stagger !== false,
  });
  // deno-lint-ignore no-console
  console.log(
    `simulated node: ${node.sim.coins().length} coins, ${options.rate} blocks/s, load ${options.load}\n` +
      `  data dir: ${dataDir}${ownDir ? " (temporary: removed on exit)" : ""}\n  info url: ${node.infoUrl}`,
  );
  const stop = () => void node.stop();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  if (options.duration > 0) setTimeout(stop, options.duration * 1000);
  await node.finished;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  if (ownDir) await Deno.remove(dataDir, { recursive: true });
  return 0;
}

if (import.meta.main) Deno.exit(await main());
