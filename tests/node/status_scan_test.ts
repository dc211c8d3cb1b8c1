/**
 * Property and fuzz test of the status-line fast path: on real mainnet lines, simulated lines and thousands of
 * mutated lines, `StatusScanner` (bytes → batch) and `parseStatusLine` must give exactly what `JSON.parse` +
 * the line validator (`checkStatus`) give: the same header, the same events (parsed ones equal, raw ones the
 * exact text of the node's event), and the same error for every line the validator rejects.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseStatusLine, StatusScanner } from "../../src/node/mod.ts";
import { type Batch, checkStatus, parseBatch } from "../../src/node/lines.ts";
import { decodeLine } from "../../src/node/_json.ts";
import { mayInsert } from "../../src/book/mod.ts";
import type { OrderStatusEvent, StatusEvent } from "../../src/book/types.ts";
import { blockLines, Simulator } from "../../src/sim/mod.ts";
import { fixtureTest, readFixtureLines } from "../_support/fixtures.ts";
import { HEADER, mutatedLines, OPEN_STATUS } from "../_support/mutate.ts";
import { rng } from "../_support/rng.ts";

const encoder = new TextEncoder();

type Reference =
  | { readonly ok: true; readonly batch: Batch<OrderStatusEvent> }
  | { readonly ok: false; readonly error: string };

/** The reference: strict UTF-8, `JSON.parse`, the validator; nothing of the fast path. */
function reference(bytes: Uint8Array): Reference {
  const text = decodeLine(bytes);
  if (text === null) return { ok: false, error: "invalid UTF-8" };
  return parseBatch<OrderStatusEvent>(text, checkStatus);
}

/** Asserts that a fast-path batch is the reference's, raw events being the node's text of the event. */
function assertSameBatch(got: Batch<StatusEvent>, want: Batch<OrderStatusEvent>, text: string, what: string) {
  assert.equal(got.blockNumber, want.blockNumber, what);
  assert.equal(got.blockTime, want.blockTime, what);
  assert.equal(got.localTime, want.localTime, what);
  assert.equal(got.events.length, want.events.length, what);
  let cursor = 0; // raw events appear in the line in order
  for (let i = 0; i < want.events.length; i++) {
    const event = got.events[i];
    const original = want.events[i];
    assert.equal(event.status, original.status, `${what} event ${i}`);
    assert.equal(event.order.coin, original.order.coin, `${what} event ${i}`);
    if ("raw" in event) {
      assert.ok(!mayInsert(original.status), `${what} event ${i} is raw but inserts`);
      const at = text.indexOf(event.raw, cursor);
      assert.ok(at >= 0, `${what} event ${i}: raw is not the node's text`);
      cursor = at + event.raw.length;
      assert.deepEqual(JSON.parse(event.raw), original, `${what} event ${i}`);
    } else {
      assert.ok(mayInsert(original.status), `${what} event ${i} parsed but cannot insert`);
      assert.deepEqual(event, original, `${what} event ${i}`);
      // Forwarded to l4Book subscribers as serialised: the members' order counts too.
      assert.equal(JSON.stringify(event), JSON.stringify(original), `${what} event ${i}`);
    }
  }
}

/**
 * Checks one line both ways: the scanner takes it only when the reference accepts it (and then gives the same
 * batch); `parseStatusLine` gives the reference's batch or the reference's error. Returns whether the scanner
 * took it.
 */
function check(scanner: StatusScanner, bytes: Uint8Array, what: string): boolean {
  const want = reference(bytes);
  let scanned: Batch<StatusEvent> | null;
  try {
    scanned = scanner.scan(bytes);
  } catch {
    scanned = null;
  }
  const text = decodeLine(bytes) ?? "";
  if (!want.ok) assert.equal(scanned, null, `${what}: the scanner took a line the validator rejects`);
  else if (scanned !== null) assertSameBatch(scanned, want.batch, text, what);
  const got = parseStatusLine(bytes);
  if (!want.ok) {
    assert.ok(!got.ok, `${what}: accepted, the validator says ${want.error}`);
    assert.equal(got.error, want.error, what);
  } else {
    assert.ok(got.ok, `${what}: ${!got.ok && got.error}`);
    assertSameBatch(got.batch, want.batch, text, what);
  }
  return scanned !== null;
}

Deno.test({
  ...fixtureTest(
    "the status fast path agrees with JSON.parse and the validator on real mainnet lines and their mutations",
  ),
  async fn(t) {
    const scanner = new StatusScanner();
    const texts = [
      ...await readFixtureLines("node_order_statuses_by_block.jsonl.gz"),
      ...await readFixtureLines("node_order_statuses_streaming.jsonl.gz"),
    ];
    await t.step("every real line is taken by the scanner and gives the reference batch", () => {
      for (const [i, text] of texts.entries()) {
        assert.ok(check(scanner, encoder.encode(text), `line ${i}`), `line ${i} left the fast path`);
      }
    });
    await t.step("mutated real lines: same events or the same error", () => {
      const random = rng(14);
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

Deno.test("the status fast path agrees with JSON.parse and the validator on simulated lines", async (t) => {
  const scanner = new StatusScanner();
  const sim = new Simulator({ seed: 21, load: 0.3, coins: 12 });
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) lines.push(blockLines(sim.step()).statuses.trimEnd());
  await t.step("every simulated line is taken by the scanner and gives the reference batch", () => {
    for (const [i, text] of lines.entries()) {
      assert.ok(check(scanner, encoder.encode(text), `block ${i}`), `block ${i} left the fast path`);
    }
  });
  await t.step("mutated simulated lines: same events or the same error", () => {
    const random = rng(41);
    const events = lines.flatMap((text) => JSON.parse(text).events as unknown[]);
    for (const [round, bytes] of mutatedLines(events, random, { rounds: 3000, most: 3, edits: 1 })) {
      check(scanner, bytes, `round ${round}`);
    }
  });
  await t.step(
    "odd but valid layouts: key order, spaces, escapes, UTF-8, duplicate keys, extra fields",
    () => {
      const odd = [
        ` { "events" : [ {"order" : {"coin":"k\\"BTC\\u0041", "x":[1,{"coin":2}]}, "status":"canc\\u0065led"} ] ,` +
        ` "block_number":7, "local_time":"L", "block_time":"2026-05-05T17:39:13.024" } `,
        `{"local_time":"é","block_time":"2026-05-05T17:39:13","block_number":1,"events":[` +
        `{"status":"rejected","status":"canceled","order":{"coin":"€","coin":"ETH"},"note":"😀"}]}`,
        `{"local_time":"x","block_time":"2026-05-05T17:39:13","block_number":1e2,"events":[],"events":[` +
        `{"status":"filled","order":{"coin":"@1"},"n":[-0.5e-3,true,false,null,{},[]]}]}`,
        `{"\\u0065vents":[{"status":"filled","order":{"coin":"A"}}],"local_time":"x",` +
        `"block_time":"2026-05-05T17:39:13","block_number":2}`,
        `{"local_time":"x","block_time":"2026-05-05T17:39:13","block_number":2,"events":[` +
        `{"status":"filled","order":{"coin":"A"}},{"status":"filled","order":"A"}]}`,
        `{"local_time":"x","block_time":"2026-05-05T17:39:13","block_number":2,"events":[` +
        `{"status":"filled","order":{"coin":"A"}},{"status":"filled","order":{"coin":"A"},"extra":{"deep":[[[]]]}}]}`,
      ];
      for (const [i, text] of odd.entries()) check(scanner, encoder.encode(text), `odd line ${i}`);
    },
  );
  await t.step("any value in an event of a compiled layout: same events or the same error", () => {
    // More events of one layout than the scanner needs to compile it, then one event whose value at one
    // member is replaced by text that is valid JSON of another kind, or almost valid JSON.
    const variants = [
      "0",
      "7",
      "0123",
      "-1",
      "-0",
      "1.5",
      "1.",
      "1e5",
      "1E+2",
      "12a",
      "-",
      "--1",
      "2 ",
      " 3",
      '""',
      '"x"',
      '"0x4f23"',
      '"a\\u0041"',
      '"\\x"',
      '"\u00e9"',
      '"\u0001"',
      '"\\"',
      '"unclosed',
      '"a"b"',
      "null",
      "nul",
      "nulll",
      "true",
      "truex",
      "false",
      "fals",
      "[]",
      "[ ]",
      "[1,2]",
      "[",
      "{}",
      "{ }",
      '{"a":1}',
      "{",
      '"81308.0"',
      '"0.00033"',
      '"1e3"',
      '"B"',
      '"A"',
      '"Ioc"',
      '"Gtc"',
      '"open"',
      '"triggered"',
      '"filled"',
      "1778002753024",
      "9007199254740993",
    ];
    const paths = [
      ...Object.keys(OPEN_STATUS).filter((key) => key !== "order").map((key) => [key]),
      ...Object.keys(OPEN_STATUS.order).map((key) => ["order", key]),
    ];
    const bases = [OPEN_STATUS, { ...OPEN_STATUS, status: "canceled" }];
    const scanner = new StatusScanner();
    const random = rng(99);
    let rounds = 0;
    for (const base of bases) {
      const plain = JSON.stringify(base);
      for (const path of paths) {
        const marked = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
        if (path.length === 1) (marked as Record<string, unknown>)[path[0]] = "@@value@@";
        else marked[path[0]][path[1]] = "@@value@@";
        const template = JSON.stringify(marked);
        // A string the compiled matcher compares whole (the same in every event): near misses of it too.
        const value = path.length === 1
          ? (base as Record<string, unknown>)[path[0]]
          : (base.order as Record<string, unknown>)[path[1]];
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
    assert.ok(rounds > bases.length * paths.length * variants.length, `${rounds} rounds`);
  });
  await t.step("a string of a compiled layout with an escape, a control, a quote or UTF-8 anywhere", () => {
    // The compiled matcher finds a string's end four bytes at a time: every length, every position.
    const specials = ['\\"', "\\u0041", "\\\\", "\u00e9", "\u20ac", "\u0001", "\\x", '"', "\\"];
    const scanner = new StatusScanner();
    const plain = JSON.stringify(OPEN_STATUS);
    const template = JSON.stringify({ ...OPEN_STATUS, user: "@@value@@" });
    let taken = 0;
    for (let size = 0; size <= 19; size++) {
      for (let at = 0; at <= size; at++) {
        for (const special of specials) {
          const text = `"${"a".repeat(at)}${special}${"b".repeat(size - at)}"`;
          const events = [...Array(70).fill(plain), template.replace('"@@value@@"', text), plain];
          if (check(scanner, encoder.encode(`${HEADER}${events.join(",")}]}`), `${size}/${at} ${special}`)) {
            taken++;
          }
        }
      }
    }
    assert.ok(taken > 500, `${taken} lines taken by the scanner`);
  });
  await t.step("inserting statuses of several layouts are built as JSON.parse gives them", () => {
    const open = OPEN_STATUS;
    const variants = [
      open,
      { ...open, builder: { b: "0xb1", f: 10 }, status: "triggered" },
      { ...open, order: { ...open.order, children: [{ x: [1, -2.5e3] }], cloid: '0x\u00e9"\\' } },
      { ...open, extra: { deep: { deeper: { n: -0 } } }, order: { ...open.order, tif: null } },
      { ...open, hash: "0xab", order: { ...open.order, oid: 0, timestamp: -1 } },
    ];
    const texts = variants.map((event) => JSON.stringify(event));
    texts.push(texts[0].replace('"user"', '"__proto__":{"polluted":true},"user"'));
    texts.push(texts[0].replace('"order":{', '"order" : { "coin":"ETH",'));
    texts.push(texts[1].replace('"b":"0xb1"', '"b":"0xb1","b":"0xb2"'));
    texts.push(texts[0].replace('"order":{', '"order":{},"order":{'));
    const random = rng(7);
    // ~230 builds of each layout: its first ones member by member, the rest by its compiled builder.
    for (let round = 0; round < 600; round++) {
      const pick = Array.from(
        { length: 1 + Math.floor(random() * 6) },
        () => texts[Math.floor(random() * texts.length)],
      );
      const line = `${HEADER}${pick.join(",")}]}`;
      assert.ok(check(scanner, encoder.encode(line), `round ${round}`), `round ${round} left the fast path`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
