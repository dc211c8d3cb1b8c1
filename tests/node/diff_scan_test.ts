/**
 * Property and fuzz test of the raw-diff fast path: on real mainnet lines, simulated lines and thousands of
 * mutated lines, `DiffScanner` (bytes → batch) and `parseDiffLine` must give exactly what `JSON.parse` + the
 * line validator (`checkDiff`) give: the same header, the same events (equal, members in the same order, as
 * they are forwarded serialised), and the same error for every line the validator rejects.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DiffScanner, parseDiffLine } from "../../src/node/mod.ts";
import { type Batch, checkDiff, parseBatch } from "../../src/node/lines.ts";
import { decodeLine } from "../../src/node/_json.ts";
import type { BookDiffEvent } from "../../src/book/types.ts";
import { blockLines, Simulator } from "../../src/sim/mod.ts";
import { fixtureTest, readFixtureLines } from "../_support/fixtures.ts";
import { HEADER, mutatedLines } from "../_support/mutate.ts";
import { rng } from "../_support/rng.ts";

const encoder = new TextEncoder();

type Reference =
  | { readonly ok: true; readonly batch: Batch<BookDiffEvent> }
  | { readonly ok: false; readonly error: string };

/** The reference: strict UTF-8, `JSON.parse`, the validator; nothing of the fast path. */
function reference(bytes: Uint8Array): Reference {
  const text = decodeLine(bytes);
  if (text === null) return { ok: false, error: "invalid UTF-8" };
  return parseBatch<BookDiffEvent>(text, checkDiff);
}

function assertSameBatch(got: Batch<BookDiffEvent>, want: Batch<BookDiffEvent>, what: string) {
  assert.equal(got.blockNumber, want.blockNumber, what);
  assert.equal(got.blockTime, want.blockTime, what);
  assert.equal(got.localTime, want.localTime, what);
  assert.deepEqual(got.events, want.events, what);
  // Forwarded to l4Book subscribers as serialised: the members' order counts too.
  assert.equal(JSON.stringify(got.events), JSON.stringify(want.events), what);
}

/**
 * Checks one line both ways: the scanner takes it only when the reference accepts it (and then gives the same
 * batch); `parseDiffLine` gives the reference's batch or the reference's error. Returns whether the scanner
 * took it.
 */
function check(scanner: DiffScanner, bytes: Uint8Array, what: string): boolean {
  const want = reference(bytes);
  let scanned: Batch<BookDiffEvent> | null;
  try {
    scanned = scanner.scan(bytes);
  } catch {
    scanned = null;
  }
  if (!want.ok) assert.equal(scanned, null, `${what}: the scanner took a line the validator rejects`);
  else if (scanned !== null) assertSameBatch(scanned, want.batch, what);
  const got = parseDiffLine(bytes);
  if (!want.ok) {
    assert.ok(!got.ok, `${what}: accepted, the validator says ${want.error}`);
    assert.equal(got.error, want.error, what);
  } else {
    assert.ok(got.ok, `${what}: ${!got.ok && got.error}`);
    assertSameBatch(got.batch, want.batch, what);
  }
  return scanned !== null;
}

/** One diff of each kind the node writes. */
const REMOVE = {
  user: "0x4f23",
  oid: 412036231800,
  coin: "BTC",
  side: "A",
  px: "81308.0",
  raw_book_diff: "remove",
};
const NEW = { ...REMOVE, raw_book_diff: { new: { sz: "0.00033" } } };
const NEW_BEFORE = {
  ...REMOVE,
  side: "B",
  raw_book_diff: { new: { sz: "1.5", insertBefore: 412036231803 } },
};
const UPDATE = { ...REMOVE, raw_book_diff: { update: { origSz: "0.1804", newSz: "0.0" } } };

Deno.test({
  ...fixtureTest(
    "the diff fast path agrees with JSON.parse and the validator on real mainnet lines and mutations",
  ),
  async fn(t) {
    const scanner = new DiffScanner();
    const texts = [
      ...await readFixtureLines("node_raw_book_diffs_by_block.jsonl.gz"),
      ...await readFixtureLines("node_raw_book_diffs_streaming.jsonl.gz"),
    ];
    await t.step("every real line is taken by the scanner and gives the reference batch", () => {
      for (const [i, text] of texts.entries()) {
        assert.ok(check(scanner, encoder.encode(text), `line ${i}`), `line ${i} left the fast path`);
      }
    });
    await t.step("mutated real lines: same events or the same error", () => {
      const random = rng(15);
      const events = texts.slice(0, 51).flatMap((text) => JSON.parse(text).events as unknown[]);
      let rejected = 0;
      for (const [round, bytes] of mutatedLines(events, random, { rounds: 4000, most: 4, edits: 3 })) {
        if (!reference(bytes).ok) rejected++;
        check(scanner, bytes, `round ${round}`);
      }
      // Most mutations break a line, some keep it valid: both sides were exercised.
      assert.ok(rejected > 1000 && rejected < 3900, `${rejected} of 4000 mutated lines rejected`);
    });
  },
});

Deno.test("the diff fast path agrees with JSON.parse and the validator on simulated lines", async (t) => {
  const scanner = new DiffScanner();
  const sim = new Simulator({ seed: 22, load: 0.3, coins: 12 });
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) lines.push(blockLines(sim.step()).diffs.trimEnd());
  await t.step("every simulated line is taken by the scanner and gives the reference batch", () => {
    for (const [i, text] of lines.entries()) {
      assert.ok(check(scanner, encoder.encode(text), `block ${i}`), `block ${i} left the fast path`);
    }
  });
  await t.step("mutated simulated lines: same events or the same error", () => {
    const random = rng(42);
    const events = lines.flatMap((text) => JSON.parse(text).events as unknown[]);
    for (const [round, bytes] of mutatedLines(events, random, { rounds: 3000, most: 3, edits: 1 })) {
      check(scanner, bytes, `round ${round}`);
    }
  });
  await t.step("odd but valid layouts: key order, spaces, escapes, duplicate keys, extra fields", () => {
    const odd = [
      `${HEADER} { "raw_book_diff" : "remove", "px":"1.0","side":"B","coin":"k\\"BTC\\u0041","oid":1,` +
      `"user":"\\u00e9" } ]}`,
      `${HEADER}{"user":"u","oid":1,"coin":"€","side":"A","px":"2.5","raw_book_diff":{"new":{"sz":"1.0"}},` +
      `"raw_book_diff":"remove","note":"😀"}]}`,
      `${HEADER}{"user":"u","oid":1,"coin":"@1","side":"A","px":"2.5","raw_book_diff":{"new":{"sz":"1.0",` +
      `"insertBefore":null,"x":[-0.5e-3,true,{}]}}}]}`,
      `${HEADER}{"user":"u","oid":1,"coin":"A","side":"A","px":"2.5","__proto__":{"polluted":1},` +
      `"raw_book_diff":"remove"}]}`,
      `${HEADER}{"user":"u","oid":1,"coin":"A","side":"A","px":"2.5","raw_book_diff":{"update":{"origSz":"1.0",` +
      `"newSz":"0.5"},"update":{"origSz":"2.0","newSz":"1.0"}}}]}`,
    ];
    for (const [i, text] of odd.entries()) check(scanner, encoder.encode(text), `odd line ${i}`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  await t.step("any value in a diff of a compiled layout: same events or the same error", () => {
    // More events of one layout than the scanner needs to compile its matcher and builder, then one whose
    // value at one member is valid JSON of another kind, or almost valid JSON.
    const variants = [
      "0",
      "7",
      "0123",
      "-1",
      "1.5",
      "1e5",
      "12a",
      '""',
      '"x"',
      '"a\\u0041"',
      '"\\x"',
      '"\u00e9"',
      '"\u0001"',
      '"unclosed',
      "null",
      "nul",
      "true",
      "false",
      "[]",
      "[1,2]",
      "{}",
      '{"a":1}',
      "{",
      '"81308.0"',
      '"0.00033"',
      '"1e3"',
      '"1.123456789"',
      '"B"',
      '"A"',
      '"remove"',
      "9007199254740993",
    ];
    const scanner = new DiffScanner();
    const random = rng(98);
    let rounds = 0;
    for (const base of [REMOVE, NEW, NEW_BEFORE, UPDATE]) {
      const plain = JSON.stringify(base);
      const paths: string[][] = Object.keys(base).filter((key) => key !== "raw_book_diff").map((
        key,
      ) => [key]);
      const diff = base.raw_book_diff;
      if (typeof diff === "object") {
        for (const [kind, inner] of Object.entries(diff)) {
          for (const key of Object.keys(inner)) paths.push(["raw_book_diff", kind, key]);
        }
      } else paths.push(["raw_book_diff"]);
      for (const path of paths) {
        const marked = structuredClone(base) as Record<string, unknown>;
        let node = marked;
        for (const name of path.slice(0, -1)) node = node[name] as Record<string, unknown>;
        node[path[path.length - 1]] = "@@value@@";
        const template = JSON.stringify(marked);
        // A string the compiled matcher compares whole (the same in every event): near misses of it too.
        let value: unknown = base;
        for (const name of path) value = (value as Record<string, unknown>)[name];
        const text = JSON.stringify(value);
        const near = typeof value === "string"
          ? [
            `${text.slice(0, -1)}x"`,
            `${text.slice(0, -2)}${text.at(-2) === "x" ? "y" : "x"}"`,
            `${text}x`,
            text.slice(0, -1),
            `"x${text.slice(1)}`,
            `"${value}${value}"`,
          ]
          : [];
        for (const variant of [...variants, ...near]) {
          const odd = template.replace('"@@value@@"', variant);
          const before = 10 + Math.floor(random() * 80); // before and after the layout is compiled
          const events = [...Array(before).fill(plain), odd, plain, plain];
          check(scanner, encoder.encode(`${HEADER}${events.join(",")}]}`), `${path.join(".")} = ${variant}`);
          rounds++;
        }
      }
    }
    assert.ok(rounds > 20 * variants.length, `${rounds} rounds`);
  });
  await t.step("diffs of every kind mixed in one line, past their compiled builders", () => {
    const texts = [REMOVE, NEW, NEW_BEFORE, UPDATE].map((event) => JSON.stringify(event));
    texts.push(texts[1].replace('"oid"', '"extra":{"deep":{"n":1}},"oid"'));
    const random = rng(8);
    for (let round = 0; round < 400; round++) {
      const pick = Array.from(
        { length: 1 + Math.floor(random() * 6) },
        () => texts[Math.floor(random() * texts.length)],
      );
      const line = `${HEADER}${pick.join(",")}]}`;
      assert.ok(check(scanner, encoder.encode(line), `round ${round}`), `round ${round} left the fast path`);
    }
  });
});
