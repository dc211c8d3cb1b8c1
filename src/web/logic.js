// @ts-check
/**
 * Pure logic of the order-book page: exact decimals, the L2 ladder with cumulative depth, the L4 book rebuilt
 * from `l4Book` Snapshot + Updates, subscriptions, formatting. No DOM here, so Deno tests import it directly.
 *
 * Prices and sizes stay exact: they are parsed into scaled BigInts, never into floats. The only float is the
 * depth-bar ratio, which is display-only.
 *
 * @module
 */

/** Decimal places kept by {@link parseDecimal} (node values have at most 8; a mid needs one more). */
export const SCALE_DIGITS = 10;
const SCALE = 10n ** BigInt(SCALE_DIGITS);
const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;
const ZERO_RE = /^-?0*(?:\.0*)?$/;

/**
 * Parses a decimal string (`"81308.0"`, `"0.00033"`) into an integer in units of 1e-10.
 * @param {string} text
 * @returns {bigint}
 */
export function parseDecimal(text) {
  const match = DECIMAL_RE.exec(text);
  if (match === null) throw new RangeError(`not a decimal: ${JSON.stringify(text)}`);
  const fraction = match[3] ?? "";
  if (fraction.length > SCALE_DIGITS) {
    throw new RangeError(`more than ${SCALE_DIGITS} decimals: ${JSON.stringify(text)}`);
  }
  const value = BigInt(match[2]) * SCALE + BigInt(fraction.padEnd(SCALE_DIGITS, "0") || "0");
  return match[1] === "-" ? -value : value;
}

/**
 * Formats a value of {@link parseDecimal} node style: trailing zeros trimmed, at least `minDecimals` decimals.
 * @param {bigint} value
 * @param {number} [minDecimals]
 * @returns {string}
 */
export function formatDecimal(value, minDecimals = 1) {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const int = abs / SCALE;
  let fraction = (abs % SCALE).toString().padStart(SCALE_DIGITS, "0").replace(/0+$/, "");
  if (fraction.length < minDecimals) fraction = fraction.padEnd(minDecimals, "0");
  return `${negative ? "-" : ""}${int}${fraction.length > 0 ? "." + fraction : ""}`;
}

/**
 * Number of decimals written in a decimal string.
 * @param {string} text
 * @returns {number}
 */
export function decimalsOf(text) {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

/**
 * Pads (never cuts) a decimal string with trailing zeros to `decimals` places, so columns line up.
 * @param {string} text
 * @param {number} decimals
 * @returns {string}
 */
export function padDecimals(text, decimals) {
  const have = decimalsOf(text);
  if (have >= decimals) return text;
  return (have === 0 ? text + "." : text) + "0".repeat(decimals - have);
}

/** @typedef {{ px: string, sz: string, n: number }} Level */

/**
 * One row of the ladder.
 * @typedef {object} LadderRow
 * @property {string} px
 * @property {string} sz
 * @property {number} n
 * @property {string} cum cumulative size from the best level to this one
 * @property {number} depth cumulative size relative to the deepest side shown, 0..1 (display only)
 */

/**
 * The ladder view of an `l2Book` message.
 * @typedef {object} Ladder
 * @property {LadderRow[]} bids best first
 * @property {LadderRow[]} asks best first
 * @property {string | null} mid (best bid + best ask) / 2, exact
 * @property {string | null} spread best ask − best bid
 * @property {string | null} spreadBps spread relative to the mid in basis points, 2 decimals (rounded down)
 * @property {number} pxDecimals most decimals among the prices shown
 * @property {number} szDecimals most decimals among the sizes shown
 */

/**
 * Builds the ladder (cumulative depth, spread, mid) from `l2Book` levels `[bids, asks]`.
 * @param {readonly [readonly Level[], readonly Level[]]} levels
 * @returns {Ladder}
 */
export function buildLadder(levels) {
  const [bidLevels, askLevels] = levels;
  let pxDecimals = 0;
  let szDecimals = 0;
  /** @param {readonly Level[]} side */
  const cumulate = (side) => {
    let total = 0n;
    return side.map((level) => {
      total += parseDecimal(level.sz);
      pxDecimals = Math.max(pxDecimals, decimalsOf(level.px));
      szDecimals = Math.max(szDecimals, decimalsOf(level.sz));
      return { level, total };
    });
  };
  const bidCum = cumulate(bidLevels);
  const askCum = cumulate(askLevels);
  const deepest = [...bidCum, ...askCum].reduce((max, row) => (row.total > max ? row.total : max), 0n);
  /** @param {{ level: Level, total: bigint }} row @returns {LadderRow} */
  const toRow = ({ level, total }) => ({
    px: level.px,
    sz: level.sz,
    n: level.n,
    cum: formatDecimal(total),
    depth: deepest === 0n ? 0 : ratio(total, deepest),
  });
  let mid = null;
  let spread = null;
  let spreadBps = null;
  if (bidLevels.length > 0 && askLevels.length > 0) {
    const bid = parseDecimal(bidLevels[0].px);
    const ask = parseDecimal(askLevels[0].px);
    const sum = bid + ask;
    mid = formatDecimal(sum / 2n);
    spread = formatDecimal(ask - bid);
    // bps = spread / mid * 1e4 = 2 * spread * 1e4 / sum; kept at 2 decimals.
    spreadBps = sum > 0n ? formatDecimal(((ask - bid) * 2n * 10000n * SCALE) / sum, 2) : null;
    if (spreadBps !== null) spreadBps = trimTo(spreadBps, 2);
  }
  return { bids: bidCum.map(toRow), asks: askCum.map(toRow), mid, spread, spreadBps, pxDecimals, szDecimals };
}

/** @param {string} text @param {number} decimals */
function trimTo(text, decimals) {
  const dot = text.indexOf(".");
  return dot < 0 ? text : text.slice(0, dot + 1 + decimals);
}

/** @param {bigint} part @param {bigint} whole */
function ratio(part, whole) {
  return Number((part * 1_000_000n) / whole) / 1_000_000;
}

// ---------------------------------------------------------------------------------------------------------
// L4 book

/**
 * An order of the client-side L4 book.
 * @typedef {object} BookOrder
 * @property {string} user
 * @property {number} oid
 * @property {"B" | "A"} side
 * @property {string} px
 * @property {string} sz
 * @property {number} timestamp order time in ms (from its status, else the block that inserted it)
 */

/**
 * Why a block could not be applied.
 * @typedef {{ ok: true } | { ok: false, reason: string }} ApplyOutcome
 */

/**
 * The L4 book of one coin, rebuilt client-side from an `l4Book` Snapshot and the Updates that follow it.
 * Orders keep their priority within a price level (FIFO, `insertBefore` honoured).
 */
export class L4Book {
  /** Price keys of `levels` as numbers, so views do not re-parse them. */
  /** @type {Map<string, bigint>} */
  #keyPx = new Map();

  /**
   * @param {{ coin: string, time: number, height: number, levels: readonly [readonly any[], readonly any[]] }} snapshot
   */
  constructor(snapshot) {
    /** @type {string} */
    this.coin = snapshot.coin;
    /** @type {number} */
    this.height = snapshot.height;
    /** @type {number} */
    this.time = snapshot.time;
    /** @type {Map<number, BookOrder>} */
    this.orders = new Map();
    /** @type {{ B: Map<string, BookOrder[]>, A: Map<string, BookOrder[]> }} levels by canonical price */
    this.levels = { B: new Map(), A: new Map() };
    for (const side of snapshot.levels) {
      for (const order of side) {
        this.#insert({
          user: order.user,
          oid: order.oid,
          side: order.side,
          px: order.limitPx,
          sz: order.sz,
          timestamp: order.timestamp,
        }, null);
      }
    }
  }

  /** Number of resting orders (zero-size ones included). */
  get size() {
    return this.orders.size;
  }

  /**
   * Applies one `Updates` message. Returns what went wrong when the updates do not fit the book (the book is
   * then out of sync and should be re-fetched); diffs of other coins are ignored.
   * @param {{ time: number, height: number, order_statuses: readonly any[], book_diffs: readonly any[] }} updates
   * @returns {ApplyOutcome}
   */
  applyUpdates(updates) {
    if (updates.height <= this.height) return { ok: true };
    /** @type {Map<number, number>} */
    const entering = new Map();
    for (const status of updates.order_statuses) {
      const order = status.order;
      if (order === undefined || order.coin !== this.coin) continue;
      if (status.status === "open" && !order.isTrigger && order.tif !== "Ioc") {
        entering.set(order.oid, order.timestamp);
      } else if (status.status === "triggered") {
        // A triggered order is timed by its status time, which the node writes equal to the block time (every
        // status of the mainnet fixture has `time == block_time`): the block time in ms is that value, so the
        // page needs no node-time parser of its own.
        entering.set(order.oid, updates.time);
      }
    }
    this.height = updates.height;
    this.time = updates.time;
    for (const diff of updates.book_diffs) {
      if (diff.coin !== this.coin) continue;
      const raw = diff.raw_book_diff;
      if (raw === "remove") {
        const order = this.orders.get(diff.oid);
        if (order === undefined) return { ok: false, reason: `remove of unknown order ${diff.oid}` };
        this.#remove(order);
      } else if (typeof raw === "object" && raw !== null && "new" in raw) {
        if (this.orders.has(diff.oid)) return { ok: false, reason: `new for resting order ${diff.oid}` };
        const ok = this.#insert({
          user: diff.user,
          oid: diff.oid,
          side: diff.side,
          px: diff.px,
          sz: raw.new.sz,
          timestamp: entering.get(diff.oid) ?? updates.time,
        }, raw.new.insertBefore ?? null);
        if (!ok) {
          return { ok: false, reason: `insertBefore ${raw.new.insertBefore} not resting at ${diff.px}` };
        }
      } else if (typeof raw === "object" && raw !== null && "update" in raw) {
        const order = this.orders.get(diff.oid);
        if (order === undefined) return { ok: false, reason: `update of unknown order ${diff.oid}` };
        order.sz = raw.update.newSz;
      } else {
        return { ok: false, reason: `unknown diff for order ${diff.oid}` };
      }
    }
    return { ok: true };
  }

  /**
   * Orders with a non-zero size on `side` whose price is within [lo, hi] (bounds inclusive, null = open),
   * best price first, then by priority.
   * @param {"B" | "A"} side
   * @param {bigint | null} lo
   * @param {bigint | null} hi
   * @returns {BookOrder[]}
   */
  ordersBetween(side, lo, hi) {
    /** @type {{ px: bigint, orders: BookOrder[] }[]} */
    const found = [];
    for (const [key, orders] of this.levels[side]) {
      const px = this.#keyPx.get(key) ?? BigInt(key);
      if ((lo === null || px >= lo) && (hi === null || px <= hi)) found.push({ px, orders });
    }
    found.sort((a, b) => (a.px === b.px ? 0 : (a.px > b.px) === (side === "B") ? -1 : 1));
    return found.flatMap(({ orders }) => orders.filter((order) => !ZERO_RE.test(order.sz)));
  }

  /**
   * The orders behind level `index` of an L2 side (`levels` best first, bucketed or not). A bid bucket holds
   * prices from its own price up to the next better level; an ask bucket from the next better level up to its
   * own price. Needs no knowledge of the bucket size because prices between shown levels are empty.
   * @param {"B" | "A"} side
   * @param {readonly Level[]} levels
   * @param {number} index
   * @returns {BookOrder[]}
   */
  levelOrders(side, levels, index) {
    const own = parseDecimal(levels[index].px);
    const better = index > 0 ? parseDecimal(levels[index - 1].px) : null;
    if (side === "B") return this.ordersBetween("B", own, better === null ? null : better - 1n);
    return this.ordersBetween("A", better === null ? null : better + 1n, own);
  }

  /**
   * @param {BookOrder} order
   * @param {number | null} insertBefore
   * @returns {boolean} false when `insertBefore` names no order resting at that price
   */
  #insert(order, insertBefore) {
    const key = parseDecimal(order.px).toString();
    const levels = this.levels[order.side];
    let level = levels.get(key);
    if (level === undefined) {
      level = [];
      levels.set(key, level);
      this.#keyPx.set(key, BigInt(key));
    }
    this.orders.set(order.oid, order);
    if (insertBefore !== null) {
      const at = level.findIndex((resting) => resting.oid === insertBefore);
      if (at < 0) {
        level.push(order);
        return false;
      }
      level.splice(at, 0, order);
      return true;
    }
    level.push(order);
    return true;
  }

  /** @param {BookOrder} order */
  #remove(order) {
    this.orders.delete(order.oid);
    const key = parseDecimal(order.px).toString();
    const levels = this.levels[order.side];
    const level = levels.get(key);
    if (level === undefined) return;
    const at = level.indexOf(order);
    if (at >= 0) level.splice(at, 1);
    if (level.length === 0) {
      levels.delete(key);
      if (!this.levels[order.side === "B" ? "A" : "B"].has(key)) this.#keyPx.delete(key);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Subscriptions and precision

/**
 * The precision choices of the ladder: key → `nSigFigs`/`mantissa`.
 * @type {ReadonlyArray<{ key: string, label: string, nSigFigs: number | null, mantissa: number | null }>}
 */
export const PRECISIONS = Object.freeze([
  { key: "full", label: "Full", nSigFigs: null, mantissa: null },
  { key: "5", label: "5 sig", nSigFigs: 5, mantissa: null },
  { key: "5m2", label: "5 sig ×2", nSigFigs: 5, mantissa: 2 },
  { key: "5m5", label: "5 sig ×5", nSigFigs: 5, mantissa: 5 },
  { key: "4", label: "4 sig", nSigFigs: 4, mantissa: null },
  { key: "3", label: "3 sig", nSigFigs: 3, mantissa: null },
  { key: "2", label: "2 sig", nSigFigs: 2, mantissa: null },
]);

/** The choices of the levels control: how many levels a side the ladder and the depth chart get. */
export const LEVEL_CHOICES = Object.freeze([10, 20, 50, 100]);

/** The server's default `nLevels` (sent as absent, so the page shares the default view with other clients). */
export const DEFAULT_LEVELS = 20;

/**
 * The `l2Book` subscription for a coin at a precision key of {@link PRECISIONS} (unknown key = full) and a
 * number of levels a side (the default is left out: the same view as every official client's).
 * @param {string} coin
 * @param {string} precisionKey
 * @param {number} [nLevels]
 * @returns {Record<string, unknown>}
 */
export function l2Subscription(coin, precisionKey, nLevels = DEFAULT_LEVELS) {
  const precision = PRECISIONS.find((p) => p.key === precisionKey) ?? PRECISIONS[0];
  /** @type {Record<string, unknown>} */
  const subscription = { type: "l2Book", coin, nSigFigs: precision.nSigFigs, mantissa: precision.mantissa };
  if (nLevels !== DEFAULT_LEVELS) subscription.nLevels = nLevels;
  return subscription;
}

/**
 * A stable identity for a subscription object (key order and null-vs-absent do not matter).
 * @param {Record<string, unknown>} subscription
 * @returns {string}
 */
export function subscriptionKey(subscription) {
  const keys = Object.keys(subscription).filter((k) =>
    subscription[k] !== null && subscription[k] !== undefined
  )
    .sort();
  return JSON.stringify(keys.map((k) => [k, subscription[k]]));
}

/**
 * What identifies an `l2Book` view: coin, bucketing and levels. Extra members an echo may add (nulls, an
 * explicit default `nLevels`) do not change it.
 * @param {Record<string, unknown>} subscription
 * @returns {string | null} null when it is not an `l2Book` subscription
 */
export function l2ViewKey(subscription) {
  if (subscription.type !== "l2Book") return null;
  return JSON.stringify([
    subscription.coin,
    subscription.nSigFigs ?? null,
    subscription.mantissa ?? null,
    subscription.nLevels ?? DEFAULT_LEVELS,
  ]);
}

/**
 * Reconnect delay: exponential from 250 ms, capped at 8 s, with up to 25 % jitter.
 * @param {number} attempt 0 for the first retry
 * @param {number} [random] a number in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, random = Math.random()) {
  const base = Math.min(8000, 250 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (1 + 0.25 * random));
}

/**
 * Coins ordered for the picker: perps alphabetically, then spot (`@…`, names with `/`) in index order.
 * @param {Iterable<string>} coins
 * @returns {string[]}
 */
export function sortCoins(coins) {
  const isSpot = (/** @type {string} */ c) => c.startsWith("@") || c.includes("/");
  const spotIndex = (/** @type {string} */ c) => (c.startsWith("@") ? Number(c.slice(1)) : -1);
  return [...coins].sort((a, b) => {
    const sa = isSpot(a);
    const sb = isSpot(b);
    if (sa !== sb) return sa ? 1 : -1;
    if (sa) return spotIndex(a) - spotIndex(b) || (a < b ? -1 : a > b ? 1 : 0);
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Trades tape

/**
 * A trade as shown on the tape.
 * @typedef {{ coin: string, side: "B" | "A", px: string, sz: string, time: number, tid: number }} TapeTrade
 */

/**
 * Adds a `trades` message to the tape (newest first), keeping at most `max` entries and dropping duplicates.
 * @param {readonly TapeTrade[]} tape
 * @param {readonly TapeTrade[]} trades in block order (oldest first)
 * @param {number} max
 * @returns {TapeTrade[]}
 */
export function pushTrades(tape, trades, max) {
  const seen = new Set(tape.map((t) => `${t.tid}:${t.side}:${t.px}:${t.sz}`));
  const fresh = [];
  for (const t of trades) {
    const key = `${t.tid}:${t.side}:${t.px}:${t.sz}`;
    if (seen.has(key)) continue;
    seen.add(key);
    fresh.push({ coin: t.coin, side: t.side, px: t.px, sz: t.sz, time: t.time, tid: t.tid });
  }
  return [...fresh.reverse(), ...tape].slice(0, max);
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

/**
 * `0x1234abcd…` → `0x1234…abcd`.
 * @param {string} user
 * @returns {string}
 */
export function shortUser(user) {
  return user.length > 12 ? `${user.slice(0, 6)}…${user.slice(-4)}` : user;
}

/**
 * A compact age: `0s`, `42s`, `5m`, `3h 2m`, `4d 1h`.
 * @param {number} ms
 * @returns {string}
 */
export function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/**
 * `HH:MM:SS` of a millisecond time, in UTC or in the local zone.
 * @param {number} ms
 * @param {boolean} [utc]
 * @returns {string}
 */
export function formatClock(ms, utc = false) {
  const d = new Date(ms);
  const parts = utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds()];
  return parts.map((p) => String(p).padStart(2, "0")).join(":");
}

/**
 * What the status bar shows: the page's own connection to hlbook and, separately, the state of hlbook's feed
 * from the node (a live connection can carry a stale feed; a lost connection says nothing about the feed).
 * @typedef {object} StatusView
 * @property {string} connText `connected`, `connecting`, `reconnecting in 3s`
 * @property {string} phase `ready`, `stale`, `resyncing`, `starting`, or `unknown` (not connected, or not known)
 * @property {string} phaseText the feed's state for people: `live`, `stale`, `re-syncing`, `starting`, `–`
 * @property {string} phaseTitle a sentence for the tooltip, with the server's reason when it gave one
 * @property {string} heightText `#985,148,181`, or `#–` when unknown
 * @property {string} lagText `lag 420 ms`
 * @property {boolean} live connected and the server's book is ready: the ladder is current
 */

const PHASE_TEXT = /** @type {Record<string, string>} */ ({
  ready: "live",
  stale: "stale",
  resyncing: "re-syncing",
  starting: "starting",
});

const PHASE_TITLE = /** @type {Record<string, string>} */ ({
  ready: "The node's files are being followed: the book is current.",
  stale: "The node stopped writing: the book shown is the last one known.",
  resyncing: "hlbook is reloading the book from a fresh node snapshot.",
  starting: "hlbook has no book yet.",
});

/**
 * The status bar from the connection state and the last `/health` (or `hlbookStatus`) seen.
 * @param {{ conn: "connecting" | "live" | "reconnecting", retryInMs: number,
 *   health: { phase?: string, height?: number, lagMs?: number | null, reason?: string | null } | null }} input
 * @returns {StatusView}
 */
export function statusView({ conn, retryInMs, health }) {
  const secs = Math.max(0, Math.ceil(retryInMs / 1000));
  const connText = conn === "live"
    ? "connected"
    : conn === "reconnecting" && secs > 0
    ? `reconnecting in ${secs}s`
    : conn;
  const known = conn === "live" && typeof health?.phase === "string" && health.phase in PHASE_TEXT;
  const phase = known ? /** @type {string} */ (health?.phase) : "unknown";
  const reason = typeof health?.reason === "string" && health.reason !== "" ? ` (${health.reason})` : "";
  const height = health?.height;
  return {
    connText,
    phase,
    phaseText: known ? PHASE_TEXT[phase] : "–",
    phaseTitle: known
      ? `${PHASE_TITLE[phase]}${phase === "ready" ? "" : reason}`
      : "Not connected to hlbook: the feed's state is unknown.",
    heightText: typeof height === "number" && height > 0 ? `#${groupDigits(String(height))}` : "#–",
    lagText: `lag ${formatLag(health?.lagMs)}`,
    live: conn === "live" && phase === "ready",
  };
}

/**
 * A short lag text: `120 ms`, `2.4 s`, `3m 5s`.
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function formatLag(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatAge(ms);
}

/**
 * `HH:MM:SS.mmm` of a millisecond time in the local zone (or UTC): trades a few ms apart stay apart.
 * @param {number} ms
 * @param {boolean} [utc]
 * @returns {string}
 */
export function formatClockMs(ms, utc = false) {
  const d = new Date(ms);
  const millis = utc ? d.getUTCMilliseconds() : d.getMilliseconds();
  return `${formatClock(ms, utc)}.${String(millis).padStart(3, "0")}`;
}

// ---------------------------------------------------------------------------------------------------------
// Readable numbers: exact strings in, display strings out

/**
 * `1234567` → `1,234,567` (digits only, no sign or decimals).
 * @param {string} digits
 * @returns {string}
 */
export function groupDigits(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A decimal string without the zeros that say nothing: `"81308.0"` → `"81308"`, `"0.50"` → `"0.5"`.
 * @param {string} text
 * @returns {string}
 */
export function trimZeros(text) {
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/**
 * A price for the ladder: thousands separators, no trailing `.0`, padded to `decimals` places so that a column
 * of prices lines up (`decimals` = the most any shown price needs, see {@link priceDecimals}).
 * @param {string} px exact decimal string from the wire
 * @param {number} [decimals]
 * @returns {string}
 */
export function formatPrice(px, decimals = 0) {
  const trimmed = trimZeros(px);
  const negative = trimmed.startsWith("-");
  const [int, fraction = ""] = (negative ? trimmed.slice(1) : trimmed).split(".");
  const padded = fraction.padEnd(decimals, "0");
  return `${negative ? "-" : ""}${groupDigits(int)}${padded.length > 0 ? "." + padded : ""}`;
}

/**
 * The decimals a column of prices (or exact sizes) needs once trailing zeros are gone.
 * @param {Iterable<string>} prices
 * @returns {number}
 */
export function priceDecimals(prices) {
  let most = 0;
  for (const px of prices) most = Math.max(most, decimalsOf(trimZeros(px)));
  return most;
}

/** From which size a unit is used, its value, its suffix. */
const UNITS = /** @type {const} */ ([[1e9, 1e9, "B"], [1e6, 1e6, "M"], [1e5, 1e3, "K"]]);

/**
 * A size for people: exact with thousands separators below 100,000 (`0.00033`, `12,345.6`, `2`), compact
 * above (`123K`, `1.23M`, `4.5B`: three significant digits, no spurious zeros). Sizes of memecoins run to 1e9+.
 * Exact sizes are padded to `decimals` places so that a column lines up (see {@link priceDecimals}).
 * @param {string} sz exact decimal string from the wire
 * @param {number} [decimals]
 * @returns {string}
 */
export function formatSize(sz, decimals = 0) {
  const trimmed = trimZeros(sz);
  const value = Number(trimmed);
  const magnitude = Math.abs(value);
  for (const [from, unit, suffix] of UNITS) {
    if (magnitude >= from) {
      const scaled = value / unit;
      const digits = Math.abs(scaled) >= 100 ? 0 : Math.abs(scaled) >= 10 ? 1 : 2;
      // Rounded down (never show more than there is), then trailing zeros dropped.
      const factor = 10 ** digits;
      const shown = (Math.trunc(scaled * factor) / factor).toFixed(digits);
      return `${trimZeros(shown)}${suffix}`;
    }
  }
  return formatPrice(trimmed, decimals);
}

// ---------------------------------------------------------------------------------------------------------
// Spot names

/**
 * Spot pairs whose names are known without asking (`@107` is HYPE/USDC on mainnet). Names from the server's
 * `spotMeta`, when it answers one, take precedence.
 * @type {Readonly<Record<string, string>>}
 */
export const KNOWN_SPOT_NAMES = Object.freeze({ "@107": "HYPE/USDC" });

/**
 * Spot pair names from an info `spotMeta` answer: `@index` → `BASE/QUOTE`. Anything malformed is skipped.
 * @param {unknown} meta
 * @returns {Map<string, string>}
 */
export function spotNames(meta) {
  /** @type {Map<string, string>} */
  const names = new Map();
  if (meta === null || typeof meta !== "object") return names;
  const { universe, tokens } = /** @type {{ universe?: unknown, tokens?: unknown }} */ (meta);
  if (!Array.isArray(universe) || !Array.isArray(tokens)) return names;
  /** @type {Map<number, string>} */
  const tokenNames = new Map();
  for (const token of tokens) {
    if (typeof token?.name === "string" && Number.isInteger(token?.index)) {
      tokenNames.set(token.index, token.name);
    }
  }
  for (const pair of universe) {
    if (typeof pair?.name !== "string" || !Array.isArray(pair.tokens) || pair.tokens.length !== 2) continue;
    const base = tokenNames.get(pair.tokens[0]);
    const quote = tokenNames.get(pair.tokens[1]);
    if (base !== undefined && quote !== undefined) names.set(pair.name, `${base}/${quote}`);
  }
  return names;
}

/**
 * What the coin picker shows for a coin: its pair name for a spot `@index` when known (`HYPE/USDC`), else the
 * coin as the API names it.
 * @param {string} coin
 * @param {ReadonlyMap<string, string>} [names]
 * @returns {string}
 */
export function coinLabel(coin, names = new Map()) {
  const name = names.get(coin) ?? KNOWN_SPOT_NAMES[coin];
  return name === undefined || name === coin ? coin : `${name} (${coin})`;
}

// ---------------------------------------------------------------------------------------------------------
// Depth chart

/**
 * One step of the depth chart: at `px` the cumulative size from the best level is `cum`.
 * @typedef {{ px: number, cum: number }} DepthPoint
 */

/**
 * The depth chart's data: cumulative size per side, best level first. Floats, display only.
 * @typedef {object} Depth
 * @property {DepthPoint[]} bids
 * @property {DepthPoint[]} asks
 * @property {number} lo lowest price of the x axis
 * @property {number} hi highest price of the x axis
 * @property {number} maxCum largest cumulative size of either side (the y axis)
 * @property {number | null} mid
 */

/**
 * Builds the depth chart of a ladder: both sides cumulated, the x axis centred on the mid so that the two
 * sides are comparable, the y axis up to the deeper side.
 * @param {Ladder} ladder
 * @returns {Depth}
 */
export function buildDepth(ladder) {
  /** @param {LadderRow[]} rows */
  const points = (rows) => rows.map((row) => ({ px: Number(row.px), cum: Number(row.cum) }));
  const bids = points(ladder.bids);
  const asks = points(ladder.asks);
  const maxCum = Math.max(0, ...bids.map((p) => p.cum), ...asks.map((p) => p.cum));
  const mid = ladder.mid === null ? null : Number(ladder.mid);
  const all = [...bids, ...asks].map((p) => p.px);
  if (all.length === 0) return { bids, asks, lo: 0, hi: 1, maxCum, mid };
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (mid !== null) {
    const half = Math.max(mid - lo, hi - mid);
    lo = mid - half;
    hi = mid + half;
  }
  if (hi <= lo) {
    lo -= 1;
    hi += 1;
  }
  return { bids, asks, lo, hi, maxCum, mid };
}

/**
 * The outline of one side of the depth chart in pixels: a step line from the mid outwards, starting and
 * ending on the x axis so that it can be filled.
 * @param {DepthPoint[]} side best level first
 * @param {Depth} depth
 * @param {{ width: number, height: number, top?: number }} box
 * @returns {[number, number][]}
 */
export function depthOutline(side, depth, box) {
  if (side.length === 0) return [];
  const top = box.top ?? 0;
  const x = (/** @type {number} */ px) => ((px - depth.lo) / (depth.hi - depth.lo)) * box.width;
  const y = (/** @type {number} */ cum) =>
    top + (box.height - top) * (1 - (depth.maxCum > 0 ? cum / depth.maxCum : 0));
  /** @type {[number, number][]} */
  const out = [[x(side[0].px), box.height]];
  let level = box.height;
  for (const point of side) {
    out.push([x(point.px), level]);
    level = y(point.cum);
    out.push([x(point.px), level]);
  }
  const edge = side.length > 1 && side[1].px < side[0].px ? 0 : box.width;
  out.push([edge, level], [edge, box.height]);
  return out;
}

/**
 * What the depth chart shows under the pointer at price `px`: the side on that side of the mid and the size
 * one would trade sweeping the book from the best level to `px` (the cumulative size of the levels passed).
 * @param {Depth} depth
 * @param {number} px
 * @returns {{ side: "B" | "A", cum: number, levels: number } | null} null outside the book or without a mid
 */
export function depthAt(depth, px) {
  if (depth.mid === null) return null;
  const side = px < depth.mid ? "B" : "A";
  const points = side === "B" ? depth.bids : depth.asks;
  let cum = 0;
  let levels = 0;
  for (const point of points) {
    if (side === "B" ? point.px < px : point.px > px) break;
    cum = point.cum;
    levels++;
  }
  return { side, cum, levels };
}

/**
 * Round axis ticks between `lo` and `hi`: about `count` of them, on 1, 2 or 5 times a power of ten, each with
 * its value and a plain decimal text (never `1e-7`) with as many decimals as the step needs.
 * @param {number} lo
 * @param {number} hi
 * @param {number} count
 * @returns {{ value: number, text: string }[]}
 */
export function niceTicks(lo, hi, count) {
  if (!(hi > lo) || count < 1) return [];
  const raw = (hi - lo) / count;
  const exponent = Math.floor(Math.log10(raw));
  const power = 10 ** exponent;
  const multiple = [1, 2, 5, 10].find((m) => m * power >= raw) ?? 10;
  const step = multiple * power;
  const decimals = Math.max(0, -(multiple === 10 ? exponent + 1 : exponent));
  const ticks = [];
  for (let i = Math.ceil(lo / step); i * step <= hi + step * 1e-9; i++) {
    const value = i * step;
    ticks.push({ value, text: value.toFixed(Math.min(decimals, 20)) });
  }
  return ticks;
}

// ---------------------------------------------------------------------------------------------------------
// L4 queue

/**
 * The orders of a level with their place in the queue at their own price (1 = next to fill).
 * @param {readonly BookOrder[]} orders in priority order, best price first (as {@link L4Book.levelOrders})
 * @returns {(BookOrder & { queue: number, queueOf: number, ahead: string })[]} `ahead`: size queued before it
 */
export function withQueue(orders) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const order of orders) counts.set(order.px, (counts.get(order.px) ?? 0) + 1);
  /** @type {Map<string, { seen: number, ahead: bigint }>} */
  const running = new Map();
  return orders.map((order) => {
    const at = running.get(order.px) ?? { seen: 0, ahead: 0n };
    const row = {
      ...order,
      queue: at.seen + 1,
      queueOf: counts.get(order.px) ?? 1,
      ahead: formatDecimal(at.ahead),
    };
    running.set(order.px, { seen: at.seen + 1, ahead: at.ahead + parseDecimal(order.sz) });
    return row;
  });
}
