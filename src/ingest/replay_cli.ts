// deno-lint-ignore-file no-console
/**
 * `deno task replay --data-dir DIR --snapshot FILE [--ingest by-block|streaming]`: replays recorded node files
 * onto a snapshot as fast as possible and prints blocks/s and events/s.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readSnapshotFile, replay, ReplayError } from "./replay.ts";

const USAGE = "usage: deno task replay --data-dir DIR --snapshot FILE[.gz] [--ingest by-block|streaming]";

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        "data-dir": { type: "string" },
        snapshot: { type: "string" },
        ingest: { type: "string", default: "by-block" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`replay: ${error instanceof Error ? error.message : error}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const dataDir = values["data-dir"];
  const snapshotPath = values.snapshot;
  const mode = values.ingest;
  if (!dataDir || !snapshotPath || (mode !== "by-block" && mode !== "streaming")) {
    console.error(
      `replay: --data-dir and --snapshot are required, --ingest must be by-block or streaming\n${USAGE}`,
    );
    return 2;
  }
  let snapshot;
  try {
    snapshot = await readSnapshotFile(snapshotPath);
  } catch (error) {
    console.error(`replay: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
  try {
    const result = await replay({ dataDir, snapshot, mode });
    const seconds = Math.max(result.seconds, 1e-9);
    console.log(
      `${result.blocks} blocks, ${result.events} events, ${result.trades} trades in ${
        seconds.toFixed(3)
      } s: ` +
        `${Math.round(result.blocks / seconds)} blocks/s, ${Math.round(result.events / seconds)} events/s; ` +
        `height ${result.books.height}, ${result.books.orderCount()} orders`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ReplayError)) throw error;
    console.error(`replay: ${error.message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
