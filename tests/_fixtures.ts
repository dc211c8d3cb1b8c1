/**
 * The one way tests reach the real mainnet fixture in `../shared/fixtures/mainnet-btc-985148181`.
 * When `../shared` is absent, tests that need it are skipped with a clear message (`fixtureIgnore`).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Directory of the real BTC fixture (snapshot + 51 blocks). */
export const FIXTURE_DIR = fileURLToPath(
  new URL("../../shared/fixtures/mainnet-btc-985148181/", import.meta.url),
);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when the fixture can be read. */
export const FIXTURE_AVAILABLE = exists(`${FIXTURE_DIR}snapshot.json.gz`);

/** Pass as `ignore:` to skip a test without the fixture; prints why once. */
export function fixtureIgnore(): boolean {
  if (!FIXTURE_AVAILABLE && !warned) {
    warned = true;
    // deno-lint-ignore no-console
    console.warn(`skipping real-data tests: ${FIXTURE_DIR} is absent (needs ../shared beside the checkout)`);
  }
  return !FIXTURE_AVAILABLE;
}
let warned = false;

/** The decompressed text of a fixture file such as `snapshot.json.gz`. */
export async function readFixtureText(name: string): Promise<string> {
  const file = await Deno.open(`${FIXTURE_DIR}${name}`);
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip")).pipeThrough(
    new TextDecoderStream(),
  );
  let text = "";
  for await (const chunk of stream) text += chunk;
  return text;
}

/** The non-empty lines of a decompressed `.jsonl.gz` fixture file. */
export async function readFixtureLines(name: string): Promise<string[]> {
  return (await readFixtureText(name)).split("\n").filter((line) => line.length > 0);
}

/** The fixture's L4 snapshot, parsed (`[height, [[coin, [bids, asks]]]]`). */
export async function readFixtureSnapshot(): Promise<unknown> {
  return JSON.parse(await readFixtureText("snapshot.json.gz"));
}
