/**
 * Node lines for the parsers' tests: an example `open` status, and mutations for the fuzz tests (one edit of
 * a line's bytes: delete, insert, overwrite, duplicate a span, truncate, swap) with bytes chosen to break JSON
 * in every way (structure, quotes and escapes, digits, controls, broken UTF-8).
 *
 * @module
 */

/** Bytes a mutation inserts or writes. */
const NASTY = [
  ...'"\\{}[],: 0123456789-+.eEtrufalsn/bu',
  "\t",
  "\n",
].map((c) => c.charCodeAt(0)).concat([
  0x00,
  0x1f,
  0x7f,
  0x80,
  0xbf,
  0xc3,
  0xa9,
  0xe2,
  0x82,
  0xac,
  0xed,
  0xf0,
  0xff,
]);

/** The bytes with one random edit (`random` in [0, 1)). */
export function mutate(bytes: Uint8Array, random: () => number): Uint8Array {
  const at = Math.floor(random() * bytes.length);
  const pick = () => NASTY[Math.floor(random() * NASTY.length)];
  const out = [...bytes];
  switch (Math.floor(random() * 6)) {
    case 0:
      out.splice(at, 1);
      break;
    case 1:
      out.splice(at, 0, pick());
      break;
    case 2:
      out[at] = pick();
      break;
    case 3: {
      const size = 1 + Math.floor(random() * 40);
      out.splice(at, 0, ...out.slice(at, at + size));
      break;
    }
    case 4:
      out.length = at;
      break;
    default: {
      // swap two bytes far apart
      const other = Math.floor(random() * bytes.length);
      [out[at], out[other]] = [out[other], out[at]];
    }
  }
  return new Uint8Array(out);
}

/** A batch header up to the opening of its `events` array. */
export const HEADER =
  '{"local_time":"2026-05-05T17:39:13.394723455","block_time":"2026-05-05T17:39:13.024084407","block_number":985148182,"events":[';

/** A line of a few of the given events, so that thousands of mutations stay cheap. */
export function smallLine(events: readonly unknown[]): string {
  return `${HEADER}${events.map((event) => JSON.stringify(event)).join(",")}]}`;
}

/**
 * `rounds` fuzz lines for the scanners' tests: each a {@link smallLine} of 1 to `most` events picked from
 * `events`, then edited by {@link mutate} once, or 1 to `edits` times when `edits` is more than 1.
 */
export function* mutatedLines(
  events: readonly unknown[],
  random: () => number,
  options: { readonly rounds: number; readonly most: number; readonly edits: number },
): Generator<readonly [round: number, bytes: Uint8Array]> {
  const encoder = new TextEncoder();
  for (let round = 0; round < options.rounds; round++) {
    const pick = Array.from(
      { length: 1 + Math.floor(random() * options.most) },
      () => events[Math.floor(random() * events.length)],
    );
    let bytes: Uint8Array = encoder.encode(smallLine(pick));
    const edits = options.edits > 1 ? 1 + Math.floor(random() * options.edits) : 1;
    for (let k = 0; k < edits; k++) bytes = mutate(bytes, random);
    yield [round, bytes];
  }
}

/** An `open` status as the node writes it (a BTC ALO ask). */
export const OPEN_STATUS = {
  time: "2026-05-05T17:39:13.024084407",
  user: "0x4f23",
  hash: null,
  builder: null,
  status: "open",
  order: {
    coin: "BTC",
    side: "A",
    limitPx: "65045.0",
    sz: "0.0003",
    oid: 412036451268,
    timestamp: 1778002753024,
    triggerCondition: "N/A",
    isTrigger: false,
    triggerPx: "0.0",
    children: [],
    isPositionTpsl: false,
    reduceOnly: false,
    orderType: "Limit",
    origSz: "0.0003",
    tif: "Alo",
    cloid: null,
  },
};
