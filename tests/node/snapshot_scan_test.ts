/**
 * Property test of the snapshot reader's fast path: loading a snapshot through `OrderColumns` rows scanned
 * straight from the bytes must give the same books, or the same error, as loading it through `JSON.parse` +
 * the snapshot order check (`readSnapshot` with `objects`, then `SnapshotLoad.addOrders`), on the real
 * fixture, on generated snapshots written in many ways (key order, spaces, escapes, extra fields, odd numbers)
 * and on byte-level mutations of them, for several chunkings.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Books, compareBooks, type SnapshotLoad, SnapshotLoadError } from "../../src/book/mod.ts";
import { parseSnapshotFile, readSnapshot, SnapshotFormatError } from "../../src/node/mod.ts";
import { fixtureTest, readFixtureText } from "../_support/fixtures.ts";
import { rng } from "../_support/rng.ts";

type Loaded =
  | { readonly ok: true; readonly books: Books; readonly rows: number; readonly objects: number }
  | { readonly ok: false; readonly error: string };

/** Loads `bytes` cut in chunks of `chunk` bytes: through rows (the fast path) or through parsed objects. */
async function load(
  bytes: Uint8Array,
  chunk: number,
  objects: boolean,
  groupBytes?: number,
): Promise<Loaded> {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.slice(at, at + chunk));
  let target: SnapshotLoad | null = null;
  let rows = 0;
  let parsed = 0;
  try {
    for await (const piece of readSnapshot(chunks, { objects, groupBytes })) {
      if (piece.kind === "height") target = Books.startLoad(piece.height);
      else if (target === null) throw new SnapshotFormatError("no height");
      else if (piece.kind === "coin") target.startCoin(piece.coin);
      else if (piece.kind === "columns") {
        rows += piece.columns.count;
        target.addColumns(piece.side, piece.columns);
      } else if (piece.kind === "orders") {
        parsed += piece.orders.length;
        target.addOrders(piece.side, piece.orders);
      } else target.endCoin();
    }
    if (target === null) throw new SnapshotFormatError("empty");
    return { ok: true, books: target.finish(), rows, objects: parsed };
  } catch (error) {
    if (error instanceof SnapshotFormatError || error instanceof SnapshotLoadError) {
      return { ok: false, error: `${error.name}: ${error.message}` };
    }
    throw error;
  }
}

/** Asserts the fast path and the parsed-objects path agree on `text`; returns the fast result. */
async function agree(text: string | Uint8Array, what: string, chunks = [1 << 20]): Promise<Loaded> {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  let fast: Loaded | null = null;
  for (const chunk of chunks) {
    for (const groupBytes of [undefined, 300]) {
      // the same chunks and groups both ways: a JSON.parse error names its position in the group
      const slow = await load(bytes, chunk, true, groupBytes);
      fast = await load(bytes, chunk, false, groupBytes);
      const where = `${what} (chunks of ${chunk}, groups of ${groupBytes ?? "default"})`;
      if (!slow.ok) {
        assert.deepEqual(fast, slow, where);
        continue;
      }
      assert.ok(fast.ok, `${where}: ${!fast.ok && fast.error}`);
      assert.equal(compareBooks(slow.books, fast.books), null, where);
      assert.deepEqual(fast.books.toSnapshot(), slow.books.toSnapshot(), where);
    }
  }
  return fast as Loaded;
}

const USERS = [
  "0x1c1c270b573d55b68b3d14722b5d5d401511bed0",
  "0xffffffffffffffffffffffffffffffffffffffff",
  "0xab",
];

/** A random order as the node writes it, with the optional fields sometimes left out. */
function order(next: () => number, oid: number, side: "B" | "A"): Record<string, unknown> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const px = side === "B" ? 100 + Math.floor(next() * 5) : 106 + Math.floor(next() * 5);
  const sz = pick(["0.1", "1", "12.5", "0.00000001", "1000000.25", "3.0"]);
  const o: Record<string, unknown> = {
    coin: pick(["BTC", "@107", "kPEPE"]),
    side,
    limitPx: pick([`${px}.0`, `${px}`, `${px}.50`, `${px}.5`]),
    sz,
    oid,
    timestamp: 1778002736649 + Math.floor(next() * 1000),
    triggerCondition: pick(["N/A", "Triggered"]),
    isTrigger: next() < 0.1,
    triggerPx: pick(["0.0", "99.5"]),
  };
  if (next() < 0.7) o.children = next() < 0.8 ? [] : [{ a: [1, "x"] }];
  o.isPositionTpsl = next() < 0.2;
  o.reduceOnly = next() < 0.2;
  o.orderType = pick(["Limit", "Take Profit Limit", "Stop Market"]);
  if (next() < 0.7) o.origSz = sz;
  o.tif = pick(["Gtc", "Alo", null, "Ioc"]);
  const cloid = next();
  if (cloid < 0.4) o.cloid = `0x${Math.floor(next() * 2 ** 48).toString(16).padStart(32, "0")}`;
  else if (cloid < 0.8) o.cloid = null;
  else if (cloid < 0.9) o.cloid = 'a "quoted" ]}[{ \\ é string';
  if (next() < 0.1) o.extra = { nested: [true, null, -1.5e3] };
  if (next() < 0.2) {
    // keys in another order
    const keys = Object.keys(o).sort(() => next() - 0.5);
    return Object.fromEntries(keys.map((k) => [k, o[k]]));
  }
  return o;
}

/** A random snapshot: a few coins, a few orders a side. */
function snapshot(next: () => number): unknown {
  let oid = 1;
  const books: unknown[] = [];
  const coins = 1 + Math.floor(next() * 3);
  for (let c = 0; c < coins; c++) {
    const sides = (["B", "A"] as const).map((side) =>
      Array.from(
        { length: Math.floor(next() * 12) },
        () => [USERS[Math.floor(next() * USERS.length)], order(next, oid++, side)],
      )
    );
    books.push([["BTC", "@107", "kPEPE"][c], sides]);
  }
  return [985148181, books];
}

/** `text` with one random change of a byte inside the books (deleted, replaced, duplicated or inserted). */
function mutate(next: () => number, text: string): string {
  const from = text.indexOf("[[") + 1;
  if (from <= 0 || from >= text.length - 1) return text;
  const at = from + Math.floor(next() * (text.length - from));
  const chars = ' ,:[]{}"\\0159.-eEntfuxBA\n';
  const c = chars[Math.floor(next() * chars.length)];
  const kind = next();
  if (kind < 0.25) return text.slice(0, at) + text.slice(at + 1);
  if (kind < 0.5) return text.slice(0, at) + c + text.slice(at + 1);
  if (kind < 0.75) return text.slice(0, at) + c + text.slice(at);
  return text.slice(0, at) + text[at] + text.slice(at);
}

Deno.test("the snapshot fast path loads what JSON.parse + the check load", async (t) => {
  await t.step("generated snapshots, compact and spaced, give the same books", async () => {
    const next = rng(14);
    let rows = 0;
    for (let k = 0; k < 150; k++) {
      const value = snapshot(next);
      const texts = [JSON.stringify(value), JSON.stringify(value, null, k % 3 === 0 ? "\t" : 1)];
      for (const text of texts) {
        // the oracle of the oracle: the whole file through JSON.parse, the check and Books.fromSnapshot
        const whole = parseSnapshotFile(text);
        assert.ok(whole.ok, !whole.ok ? whole.error : "");
        const fast = await agree(text, `snapshot ${k}`, [1 << 20, 7]);
        assert.ok(fast.ok);
        assert.equal(compareBooks(Books.fromSnapshot(whole.snapshot), fast.books), null, `snapshot ${k}`);
        rows += fast.rows;
      }
    }
    assert.ok(rows > 3000, `only ${rows} orders went the fast way`);
  });

  await t.step("orders the scanner declines still load, through the parsed path", async () => {
    const base = { ...(order(rng(1), 7, "B")), isTrigger: false };
    const variants: Record<string, unknown>[] = [
      { ...base, sz: "1e2" },
      { ...base, side: "\u0042" }, // the same after JSON.stringify: must go fast
    ];
    for (const o of variants) {
      const text = JSON.stringify([5, [["BTC", [[["0xu", o]], []]]]]);
      const fast = await agree(text, JSON.stringify(o), [1 << 20, 3]);
      if (fast.ok) assert.equal(fast.books.orderCount(), 1);
    }
    const escaped = JSON.stringify([5, [["BTC", [[["0xu", { ...base, tif: "Gtc" }]], []]]]])
      .replace('"tif":"Gtc"', '"tif":"\\u0047tc"')
      .replace('"oid":7', '"oid":7.0')
      .replace('"sz":', '"s\\u007a":');
    const result = await agree(escaped, "escapes and a fractional oid");
    assert.ok(result.ok && result.objects === 1 && result.rows === 0, JSON.stringify(result));
  });

  await t.step("faults give the same error both ways", async () => {
    const base = order(rng(2), 9, "A");
    const bad: unknown[] = [
      { ...base, side: "B" }, // listed under asks
      { ...base, sz: "0.123456789" }, // more decimals than a size holds
      { ...base, limitPx: "1e3" },
      { ...base, limitPx: "99999999999.0" },
      { ...base, oid: -1 },
      { ...base, timestamp: 1.5 },
      { ...base, tif: 3 },
      { ...base, origSz: null },
      { ...base, cloid: 5 },
      { ...base, isTrigger: "no" },
      (({ tif: _, ...rest }) => rest)(base),
    ];
    for (const o of bad) {
      const text = JSON.stringify([5, [["BTC", [[], [["0xu", o], ["0xv", { ...base, oid: 10 }]]]]]]);
      const result = await agree(text, JSON.stringify(o), [1 << 20, 5]);
      assert.ok(!result.ok, JSON.stringify(o));
    }
    const plain = JSON.stringify([5, [["BTC", [[], [["0xu", { ...base, oid: 12, timestamp: 34 }]]]]]]);
    for (
      const [from, to] of [
        ['"oid":12', '"oid":012'],
        ['"oid":12', '"oid":-12'],
        ['"oid":12', '"oid":1.2e1'],
        ['"timestamp":34', '"timestamp":034'],
        ['"timestamp":34', '"timestamp":3.4'],
        ['"timestamp":34', '"timestamp":1234567890123456'],
        ['"isPositionTpsl":', '"isPositionTpsl":tru,"x":'],
        ['"side":"A"', '"side":"A\\u0000"'],
        ['"coin":', '"coin":"\\q",'],
        ["]]]]]", "] ]]]]"],
        ["]]]]]", ",]]]]]"],
        ['["0xu",', '["0xu",,'],
        ['["0xu",', '["0xu" 3,'],
        ['"0xu"', '"0x\u0001u"'],
      ]
    ) {
      const text = plain.replace(from, to);
      assert.notEqual(text, plain);
      await agree(text, to, [1 << 20, 4]);
    }
    const twice = JSON.stringify([5, [["BTC", [[], [["0xu", base], ["0xv", base]]]]]]);
    const result = await agree(twice, "a duplicated oid");
    assert.ok(!result.ok && /appears twice/.test(result.error));
    const dupKey = JSON.stringify([5, [["BTC", [[], [["0xu", base]]]]]]).replace('"sz":', '"sz":"1","sz":');
    assert.ok((await agree(dupKey, "a duplicated key")).ok);
  });

  await t.step("mutated snapshots: the same books or the same error", async () => {
    const next = rng(1414);
    let failures = 0;
    let loads = 0;
    for (let k = 0; k < 600; k++) {
      let text = JSON.stringify(snapshot(next), null, k % 4 === 0 ? 1 : undefined);
      for (let m = 1 + Math.floor(next() * 3); m > 0; m--) text = mutate(next, text);
      const result = await agree(text, `mutation ${k}`, [1 << 20, 1 + Math.floor(next() * 40)]);
      if (result.ok) loads++;
      else failures++;
    }
    assert.ok(failures > 100 && loads > 50, `${failures} failures, ${loads} loads`);
  });
});

Deno.test(fixtureTest("the real snapshot loads the same through the fast path"), async () => {
  const text = await readFixtureText("snapshot.json.gz");
  const fast = await agree(text, "the fixture", [1 << 20, 65_537]);
  assert.ok(fast.ok);
  assert.equal(fast.objects, 0);
  assert.ok(fast.rows > 50_000, `${fast.rows} rows`);
});
