import assert from "node:assert/strict";
import {
  decodeLine,
  parseDiffLine,
  parseFillLine,
  parseSnapshotFile,
  parseSnapshotFileAsync,
  parseStatusLine,
  readSnapshot,
  SnapshotFormatError,
} from "../../src/node/mod.ts";
import type { RawStatusEvent, StatusEvent } from "../../src/book/types.ts";
import { l4UpdatesMessage } from "../../src/feed/messages.ts";
import { fixtureTest, readFixtureLines, readFixtureText } from "../_support/fixtures.ts";
import { OPEN_STATUS } from "../_support/mutate.ts";
import { isDecimal, isDecimalIn } from "../../src/node/_json.ts";
import { rng } from "../_support/rng.ts";

const STATUS = OPEN_STATUS;
const DIFF = { user: "0x5e", oid: 4120, coin: "BTC", side: "A", px: "81308.0", raw_book_diff: "remove" };
const FILL = [
  "0x16",
  {
    coin: "BTC",
    px: "81308.0",
    sz: "0.00033",
    side: "B",
    time: 1778002753024,
    hash: "0x00",
    oid: 412036451245,
    crossed: true,
    tid: 316059956208702,
  },
];

/** A raw status's fields as a plain object (the parser's raw statuses decode `raw` on first use). */
function plainRaw(event: StatusEvent): unknown {
  return "raw" in event ? { status: event.status, order: { coin: event.order.coin }, raw: event.raw } : event;
}

function line(events: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    local_time: "2026-05-05T17:39:13.394386432",
    block_time: "2026-05-05T17:39:13.024084407",
    block_number: 985148182,
    events,
    ...extra,
  });
}

Deno.test("node lines parse into validated batches", async (t) => {
  await t.step("a status line gives block number, block time in ms and the events as written", () => {
    const result = parseStatusLine(line([STATUS], { future: 1 }));
    assert.ok(result.ok);
    assert.equal(result.batch.blockNumber, 985148182);
    assert.equal(result.batch.blockTime, 1778002753024);
    assert.equal(result.batch.localTime, "2026-05-05T17:39:13.394386432");
    assert.deepEqual(result.batch.events, [STATUS]);
  });
  await t.step("every kind of raw diff is accepted", () => {
    const diffs = [
      DIFF,
      { ...DIFF, raw_book_diff: { new: { sz: "0.5" } } },
      { ...DIFF, raw_book_diff: { new: { sz: "0.5", insertBefore: 412036231803 } } },
      { ...DIFF, raw_book_diff: { update: { origSz: "0.1804", newSz: "0.0" } } },
    ];
    const result = parseDiffLine(line(diffs));
    assert.ok(result.ok);
    assert.equal(result.batch.blockNumber, 985148182);
    assert.deepEqual(result.batch.events, diffs);
  });
  await t.step("a fill line is accepted, extra fields kept", () => {
    const result = parseFillLine(line([FILL, [FILL[0], { ...(FILL[1] as object), liquidation: {} }]]));
    assert.ok(result.ok);
    assert.ok("liquidation" in result.batch.events[1][1]);
  });
  await t.step("a rejected status is only checked for what every consumer reads", () => {
    const rejected = { ...STATUS, status: "badAloPxRejected", order: { coin: "BTC", limitPx: 5 } };
    const ok = parseStatusLine(line([rejected]));
    assert.ok(ok.ok);
    assert.deepEqual(ok.batch.events.map(plainRaw), [
      { status: "badAloPxRejected", order: { coin: "BTC" }, raw: JSON.stringify(rejected) },
    ]);
    const noCoin = { ...rejected, order: {} };
    const result = parseStatusLine(line([noCoin]));
    assert.ok(!result.ok);
    assert.match(result.error, /order\.coin/);
  });
});

Deno.test("statuses that cannot insert an order stay as the node's text", async (t) => {
  const filled = { ...STATUS, status: "filled" };
  await t.step("only open and triggered statuses are parsed; the others keep their exact text", () => {
    const text = line([STATUS, filled, { ...STATUS, status: "triggered" }, {
      ...STATUS,
      status: "canceled",
    }]);
    const result = parseStatusLine(text);
    assert.ok(result.ok);
    const kinds = result.batch.events.map((event) => "raw" in event ? "raw" : "parsed");
    assert.deepEqual(kinds, ["parsed", "raw", "parsed", "raw"]);
    const raw = result.batch.events[1] as RawStatusEvent;
    assert.equal(raw.raw, JSON.stringify(filled));
    assert.equal(raw.status, "filled");
    assert.deepEqual(raw.order, { coin: "BTC" });
  });
  await t.step("key order, whitespace, nesting and escapes do not matter", () => {
    const odd = '{"order" : {"children":[{"coin":"ETH"}], "x":{"coin":1}, "coin":"k\\"BTC\\u0041"},' +
      ' "status":"st\\\\x", "status2":{"status":"open"}, "n":[-1.5e+3, true, false, null, {}, []]}';
    const text = ` { "events" : [ ${odd} , {"status":"canceled","order":{"coin":"@1"}} ], "block_number":7,` +
      ` "local_time":"L\\"", "block_time":"2026-05-05T17:39:13.024084407" } `;
    assert.ok(JSON.parse(text));
    const result = parseStatusLine(text);
    assert.ok(result.ok, !result.ok ? result.error : "");
    assert.equal(result.batch.blockNumber, 7);
    assert.equal(result.batch.localTime, 'L"');
    const [a, b] = result.batch.events as RawStatusEvent[];
    assert.equal(a.raw, odd);
    assert.equal(a.status, "st\\x");
    assert.equal(a.order.coin, 'k"BTCA');
    assert.deepEqual(plainRaw(b), {
      status: "canceled",
      order: { coin: "@1" },
      raw: '{"status":"canceled","order":{"coin":"@1"}}',
    });
  });
  const base = (events: string) =>
    `{"local_time":"x","block_time":"2026-05-05T17:39:13.024084407","block_number":3,"events":[${events}]}`;
  const good = '{"status":"canceled","order":{"coin":"BTC"}}';
  assert.ok(parseStatusLine(base(good)).ok);
  const cases: [string, string, RegExp][] = [
    ["an unbalanced bracket", base('{"status":"canceled","order":{"coin":"BTC"}'), /not JSON/],
    ["a wrong closing bracket", base('{"status":"canceled","order":{"coin":"BTC"]}'), /not JSON/],
    ["an unterminated string", base('{"status":"canceled","order":{"coin":"BTC}}'), /not JSON/],
    ["an escaped closing quote", base('{"status":"canceled","order":{"coin":"BTC\\"}}'), /not JSON/],
    ["a bad character outside strings", base('{"status":"canceled","order":{"coin":"BTC"},x:1}'), /not JSON/],
    ["a bad literal", base('{"status":"canceled","order":{"coin":"BTC"},"x":nul}'), /not JSON/],
    ["a bad number", base('{"status":"canceled","order":{"coin":"BTC"},"x":01}'), /not JSON/],
    ["a trailing comma", base('{"status":"canceled","order":{"coin":"BTC"},}'), /not JSON/],
    ["a missing colon", base('{"status" "canceled","order":{"coin":"BTC"}}'), /not JSON/],
    [
      "a raw control character in a string",
      base('{"status":"canceled","order":{"coin":"B\tC"}}'),
      /not JSON/,
    ],
    ["a bad escape", base('{"status":"canceled","order":{"coin":"B\\qC"}}'), /not JSON/],
    ["trailing text", base(good) + "x", /not JSON/],
    ["two batches on one line", base(good) + base(good), /not JSON/],
    ["a missing status", base('{"order":{"coin":"BTC"}}'), /event 0: status must be a string/],
    ["a status that is not a string", base('{"status":1,"order":{"coin":"BTC"}}'), /status must be a string/],
    ["a missing coin", base(`${good},{"status":"canceled","order":{"c":"BTC"}}`), /event 1: order\.coin/],
    ["a coin outside the order", base('{"status":"canceled","coin":"BTC","order":{}}'), /order\.coin/],
    ["an order that is not an object", base('{"status":"canceled","order":["BTC"]}'), /order must be/],
    ["an event that is not an object", base(`${good},"x"`), /event 1: an order status must be an object/],
    ["an empty line", "", /not JSON/],
  ];
  for (const [name, text, error] of cases) {
    await t.step(`${name} is rejected`, () => {
      const result = parseStatusLine(text);
      assert.ok(!result.ok, name);
      assert.match(result.error, error);
    });
  }
});

Deno.test("a decimal is digits[.digits], as /^\\d+(\\.\\d+)?$/ says, for strings and bytes alike", () => {
  const rule = /^\d+(\.\d+)?$/;
  const fixed = [
    "",
    "0",
    "81308.0",
    "0.00033",
    "1.",
    ".5",
    "1.2.3",
    "01",
    " 1",
    "1 ",
    "1\n",
    "-1",
    "1e5",
    "١",
    "1.٢",
  ];
  const random = rng(5);
  const alphabet = "0123456789.9.-e x";
  const made = Array.from(
    { length: 3000 },
    () =>
      Array.from({ length: Math.floor(random() * 7) }, () => alphabet[Math.floor(random() * alphabet.length)])
        .join(""),
  );
  const encoder = new TextEncoder();
  let decimals = 0;
  for (const text of [...fixed, ...made]) {
    const want = rule.test(text);
    if (want) decimals++;
    assert.equal(isDecimal(text), want, JSON.stringify(text));
    const bytes = encoder.encode(`"${text}"`);
    assert.equal(isDecimalIn(bytes, 1, bytes.length - 1), want, JSON.stringify(text));
  }
  assert.ok(decimals > 300, `${decimals} decimals among the cases`);
  assert.equal(isDecimal(5), false);
});

Deno.test("malformed node lines are rejected with a clear error", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["bad JSON", '{"block_number":1,', /not JSON/],
    ["truncated line", line([STATUS]).slice(0, 100), /not JSON/],
    ["not an object", "[1,2]", /batch object/],
    ["missing block number", line([], { block_number: undefined }), /block_number/],
    ["negative block number", line([], { block_number: -1 }), /block_number/],
    ["bad block time", line([], { block_time: "2026-05-05 17:39" }), /block_time/],
    ["events not an array", line([], { events: {} }), /events must be an array/],
    [
      "open status with a float price",
      line([{ ...STATUS, order: { ...STATUS.order, limitPx: 1.5 } }]),
      /limitPx/,
    ],
    ["open status with a bad side", line([{ ...STATUS, order: { ...STATUS.order, side: "S" } }]), /side/],
    ["open status with a bad time", line([{ ...STATUS, time: "yesterday" }]), /time must be/],
  ];
  for (const [name, text, error] of cases) {
    await t.step(`${name} is rejected`, () => {
      const result = parseStatusLine(text);
      assert.ok(!result.ok);
      assert.match(result.error, error);
    });
  }
  await t.step("a diff with an unknown raw_book_diff is rejected", () => {
    const result = parseDiffLine(line([{ ...DIFF, raw_book_diff: { move: {} } }]));
    assert.ok(!result.ok);
    assert.match(result.error, /event 0: raw_book_diff/);
  });
  await t.step("a diff with an exponent size is rejected", () => {
    const result = parseDiffLine(line([{ ...DIFF, raw_book_diff: { new: { sz: "1e-5" } } }]));
    assert.ok(!result.ok);
    assert.match(result.error, /new\.sz/);
  });
  await t.step("a fill without its tid is rejected", () => {
    const result = parseFillLine(line([[FILL[0], { ...(FILL[1] as object), tid: "x" }]]));
    assert.ok(!result.ok);
    assert.match(result.error, /tid/);
  });
  await t.step("invalid UTF-8 bytes are not decoded", () => {
    assert.equal(decodeLine(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), null);
    assert.equal(decodeLine(new TextEncoder().encode('{"a":"é"}')), '{"a":"é"}');
  });
});

Deno.test("snapshot files are checked for the [height, books] shape", async (t) => {
  const order = { ...STATUS.order };
  await t.step("a valid snapshot parses", () => {
    const result = parseSnapshotFile(JSON.stringify([5, [["BTC", [[["0xu", order]], []]]]]));
    assert.ok(result.ok);
    assert.equal(result.snapshot[0], 5);
  });
  for (
    const [name, text] of [
      ["garbage", "<html>"],
      ["no height", JSON.stringify([["BTC", [[], []]]])],
      ["bad sides", JSON.stringify([5, [["BTC", [[]]]]])],
      ["bad order", JSON.stringify([5, [["BTC", [[["0xu", { ...order, sz: 1 }]], []]]]])],
    ]
  ) {
    await t.step(`${name} is rejected`, () => {
      const result = parseSnapshotFile(text);
      assert.ok(!result.ok);
      assert.ok(result.error.startsWith("snapshot"), result.error);
    });
  }
});

Deno.test("snapshot files also parse one coin at a time", async (t) => {
  const order = { ...STATUS.order, cloid: 'a "quoted" ]}[{ \\ string' };
  const value = [7, [["BTC", [[["0xu", order], ["0xv", { ...order, oid: 2 }]], []]], ["@107", [[], [[
    "0xw",
    order,
  ]]]]]];
  await t.step("compact and indented files give the same value as JSON.parse", async () => {
    for (const text of [JSON.stringify(value), JSON.stringify(value, null, 2), JSON.stringify([7, []])]) {
      const result = await parseSnapshotFileAsync(text, { groupBytes: 10 });
      assert.ok(result.ok, !result.ok ? result.error : "");
      assert.deepEqual(result.snapshot, JSON.parse(text));
    }
  });
  await t.step("any chunking of the bytes gives the same pieces (as objects)", async () => {
    for (const text of [JSON.stringify(value), JSON.stringify(value, null, 2)]) {
      const bytes = new TextEncoder().encode(text);
      for (const size of [1, 2, 7, 64, bytes.length]) {
        const chunks: Uint8Array[] = [];
        for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.slice(at, at + size));
        const books: unknown[] = [];
        let height = 0;
        for await (const piece of readSnapshot(chunks, { groupBytes: 50, objects: true })) {
          if (piece.kind === "height") height = piece.height;
          if (piece.kind === "coin") books.push([piece.coin, [[], []]]);
          if (piece.kind === "orders") {
            (books.at(-1) as [string, unknown[][]])[1][piece.side].push(...piece.orders);
          }
        }
        assert.deepEqual([height, books], JSON.parse(text), `chunks of ${size}`);
      }
    }
  });
  await t.step("a malformed order is an error even when chunks cut it", async () => {
    const text = JSON.stringify(value).replace('"0xv"', '"0xv" x');
    const bytes = new TextEncoder().encode(text);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += 5) chunks.push(bytes.slice(at, at + 5));
    await assert.rejects(async () => {
      for await (const _ of readSnapshot(chunks)) { /* drain */ }
    }, SnapshotFormatError);
  });
  await t.step("invalid UTF-8 inside a book is rejected", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify([7, [["BTC", [[["0xu", order]], []]]]]));
    bytes[bytes.indexOf(0x75)] = 0xff; // the "u" of the user
    const result = await parseSnapshotFileAsync(bytes);
    assert.ok(!result.ok);
    assert.match(result.error, /snapshot book 0 is not JSON/);
  });
  await t.step("truncated, garbage and misshapen files are rejected", async () => {
    const text = JSON.stringify(value);
    for (
      const bad of [
        text.slice(0, text.length - 3),
        text.slice(0, 60),
        "<html>",
        "",
        JSON.stringify([["BTC", [[], []]]]),
        JSON.stringify([7, [["BTC", [[]]]]]),
        JSON.stringify([7, [["BTC", [[["0xu", { ...order, limitPx: 1 }]], []]]]]),
        text + "]",
        JSON.stringify([7, [["BTC", [[], []]]], 8]),
      ]
    ) {
      const result = await parseSnapshotFileAsync(bad);
      assert.ok(!result.ok, bad.slice(0, 80));
      assert.ok(result.error.startsWith("snapshot"), result.error);
    }
  });
});

Deno.test(fixtureTest("every real fixture line parses"), async (t) => {
  for (const mode of ["by_block", "streaming"]) {
    await t.step(`${mode} statuses, diffs and fills parse`, async () => {
      const parsers = [
        [`node_order_statuses_${mode}.jsonl.gz`, parseStatusLine],
        [`node_raw_book_diffs_${mode}.jsonl.gz`, parseDiffLine],
        [`node_fills_${mode}.jsonl.gz`, parseFillLine],
      ] as const;
      for (const [name, parse] of parsers) {
        for (const text of await readFixtureLines(name)) {
          const result = parse(text);
          assert.ok(result.ok, `${name}: ${!result.ok && result.error}`);
        }
      }
    });
  }
  for (const mode of ["by_block", "streaming"]) {
    await t.step(
      `${mode} statuses come back as the node wrote them, byte for byte in l4Book Updates`,
      async () => {
        let raw = 0;
        let parsed = 0;
        for (const text of await readFixtureLines(`node_order_statuses_${mode}.jsonl.gz`)) {
          const result = parseStatusLine(text);
          assert.ok(result.ok);
          const node = JSON.parse(text);
          assert.equal(result.batch.events.length, node.events.length);
          result.batch.events.forEach((event, i) => {
            const original = node.events[i];
            assert.equal(event.status, original.status);
            assert.equal(event.order.coin, original.order.coin);
            if ("raw" in event) {
              raw++;
              assert.ok(original.status !== "open" && original.status !== "triggered");
              assert.deepEqual(JSON.parse(event.raw), original);
            } else {
              parsed++;
              assert.deepEqual(event, original);
            }
          });
          const message = l4UpdatesMessage(1, node.block_number, result.batch.events, []);
          const events = text.slice(
            text.indexOf('"events":') + '"events":'.length,
            text.lastIndexOf("]") + 1,
          );
          assert.ok(message.includes(`"order_statuses":${events},`), `block ${node.block_number}`);
        }
        assert.ok(raw > 1000 && parsed > 100, `${raw} raw, ${parsed} parsed`);
      },
    );
  }
  await t.step("the snapshot parses, at once and one coin at a time", async () => {
    const text = await readFixtureText("snapshot.json.gz");
    const result = parseSnapshotFile(text);
    assert.ok(result.ok, !result.ok ? result.error : "");
    assert.equal(result.snapshot[0], 985148181);
    const chunked = await parseSnapshotFileAsync(text);
    assert.ok(chunked.ok);
    assert.deepEqual(chunked.snapshot, result.snapshot);
  });
});
