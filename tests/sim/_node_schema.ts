/**
 * A strict checker of node output lines (docs/node-files.md), used on both the simulator's files and the real
 * mainnet fixture: the simulated node must look exactly like a real one.
 *
 * @module
 */

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?$/;
const DECIMAL = /^(0|[1-9]\d*)\.(0|\d*[1-9])$/;
const SIGNED_DECIMAL = /^-?(0|[1-9]\d*)\.(0|\d*[1-9])$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const HASH = /^0x[0-9a-f]{64}$/;
const CLOID = /^0x[0-9a-f]{32}$/;

const STATUS_KEYS = ["time", "user", "hash", "builder", "status", "order"];
const ORDER_KEYS = [
  "coin",
  "side",
  "limitPx",
  "sz",
  "oid",
  "timestamp",
  "triggerCondition",
  "isTrigger",
  "triggerPx",
  "children",
  "isPositionTpsl",
  "reduceOnly",
  "orderType",
  "origSz",
  "tif",
  "cloid",
];
const DIFF_KEYS = ["user", "oid", "coin", "side", "px", "raw_book_diff"];
const FILL_KEYS = [
  "coin",
  "px",
  "sz",
  "side",
  "time",
  "startPosition",
  "dir",
  "closedPnl",
  "hash",
  "oid",
  "crossed",
  "fee",
  "tid",
  "feeToken",
];
const FILL_OPTIONAL = ["cloid", "twapId", "liquidation", "builderFee", "builder"];

/** Which kind of line. */
export type LineKind = "statuses" | "diffs" | "fills";

/** A parsed, checked batch line. */
export interface CheckedLine {
  readonly localTime: string;
  readonly blockTime: string;
  readonly blockNumber: number;
  // deno-lint-ignore no-explicit-any
  readonly events: any[];
}

class SchemaError extends Error {}

function fail(where: string, message: string): never {
  throw new SchemaError(`${where}: ${message}`);
}

function keys(where: string, value: unknown, required: readonly string[], optional: readonly string[] = []) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(where, "not an object");
  const have = Object.keys(value);
  for (const k of required) if (!have.includes(k)) fail(where, `missing ${k}`);
  for (const k of have) {
    if (!required.includes(k) && !optional.includes(k)) fail(where, `unexpected key ${k}`);
  }
  // the node writes its keys in a fixed order
  const order = have.filter((k) => required.includes(k));
  if (order.join() !== required.join()) fail(where, `keys out of order: ${order.join()}`);
  return value as Record<string, unknown>;
}

function str(where: string, value: unknown, re?: RegExp): string {
  if (typeof value !== "string") fail(where, `not a string: ${JSON.stringify(value)}`);
  if (re && !re.test(value)) fail(where, `bad value ${JSON.stringify(value)}`);
  return value;
}

function int(where: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail(where, `not a non-negative integer: ${value}`);
  }
  return value;
}

function bool(where: string, value: unknown): boolean {
  if (typeof value !== "boolean") fail(where, `not a boolean: ${value}`);
  return value;
}

function side(where: string, value: unknown): void {
  if (value !== "B" && value !== "A") fail(where, `bad side ${JSON.stringify(value)}`);
}

function checkOrder(where: string, value: unknown): void {
  const o = keys(where, value, ORDER_KEYS);
  str(`${where}.coin`, o.coin, /./);
  side(`${where}.side`, o.side);
  str(`${where}.limitPx`, o.limitPx, DECIMAL);
  str(`${where}.sz`, o.sz, DECIMAL);
  int(`${where}.oid`, o.oid);
  int(`${where}.timestamp`, o.timestamp);
  str(`${where}.triggerCondition`, o.triggerCondition, /./);
  bool(`${where}.isTrigger`, o.isTrigger);
  str(`${where}.triggerPx`, o.triggerPx, DECIMAL);
  if (!Array.isArray(o.children)) fail(`${where}.children`, "not an array");
  bool(`${where}.isPositionTpsl`, o.isPositionTpsl);
  bool(`${where}.reduceOnly`, o.reduceOnly);
  str(`${where}.orderType`, o.orderType, /./);
  str(`${where}.origSz`, o.origSz, DECIMAL);
  if (o.tif !== null && o.tif !== "Gtc" && o.tif !== "Alo" && o.tif !== "Ioc") {
    fail(`${where}.tif`, `bad ${o.tif}`);
  }
  if (o.isTrigger === true && o.tif !== null) fail(`${where}.tif`, "a trigger order has tif null");
  if (o.cloid !== null) str(`${where}.cloid`, o.cloid, CLOID);
}

function checkStatus(where: string, value: unknown): void {
  const e = keys(where, value, STATUS_KEYS);
  str(`${where}.time`, e.time, TIME);
  str(`${where}.user`, e.user, ADDRESS);
  if (e.hash !== null) str(`${where}.hash`, e.hash, HASH);
  str(`${where}.status`, e.status, /^[a-zA-Z]+$/);
  checkOrder(`${where}.order`, e.order);
}

function checkDiff(where: string, value: unknown): void {
  const e = keys(where, value, DIFF_KEYS);
  str(`${where}.user`, e.user, ADDRESS);
  int(`${where}.oid`, e.oid);
  str(`${where}.coin`, e.coin, /./);
  side(`${where}.side`, e.side);
  str(`${where}.px`, e.px, DECIMAL);
  const d = e.raw_book_diff;
  if (d === "remove") return;
  if (typeof d !== "object" || d === null) fail(`${where}.raw_book_diff`, `bad ${JSON.stringify(d)}`);
  if ("new" in d) {
    const n = keys(`${where}.new`, (d as { new: unknown }).new, ["sz"], ["insertBefore"]);
    str(`${where}.new.sz`, n.sz, DECIMAL);
    if (n.insertBefore !== undefined && n.insertBefore !== null) {
      int(`${where}.new.insertBefore`, n.insertBefore);
    }
  } else if ("update" in d) {
    const u = keys(`${where}.update`, (d as { update: unknown }).update, ["origSz", "newSz"]);
    str(`${where}.update.origSz`, u.origSz, DECIMAL);
    str(`${where}.update.newSz`, u.newSz, DECIMAL);
  } else fail(`${where}.raw_book_diff`, `unknown diff ${JSON.stringify(d)}`);
}

function checkFill(where: string, value: unknown): void {
  if (!Array.isArray(value) || value.length !== 2) fail(where, "not [user, fill]");
  str(`${where}[0]`, value[0], ADDRESS);
  const f = keys(`${where}[1]`, value[1], FILL_KEYS, FILL_OPTIONAL);
  str(`${where}.coin`, f.coin, /./);
  str(`${where}.px`, f.px, DECIMAL);
  str(`${where}.sz`, f.sz, DECIMAL);
  side(`${where}.side`, f.side);
  int(`${where}.time`, f.time);
  str(`${where}.startPosition`, f.startPosition, SIGNED_DECIMAL);
  str(`${where}.dir`, f.dir, /./);
  str(`${where}.closedPnl`, f.closedPnl, SIGNED_DECIMAL);
  str(`${where}.hash`, f.hash, HASH);
  int(`${where}.oid`, f.oid);
  bool(`${where}.crossed`, f.crossed);
  str(`${where}.fee`, f.fee, SIGNED_DECIMAL);
  int(`${where}.tid`, f.tid);
  str(`${where}.feeToken`, f.feeToken, /./);
  if (f.cloid !== undefined && f.cloid !== null) str(`${where}.cloid`, f.cloid, CLOID);
}

/**
 * Parse and strictly check one batch line of the given stream; throws with the path of the first fault.
 * `pairedFills`: by-block fill lines hold both sides of each trade adjacent (buyer first, same tid).
 */
export function checkLine(kind: LineKind, text: string, pairedFills = true): CheckedLine {
  const where = `${kind} line`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(where, `not JSON: ${(error as Error).message}`);
  }
  const b = keys(where, value, ["local_time", "block_time", "block_number", "events"]);
  str(`${where}.local_time`, b.local_time, TIME);
  str(`${where}.block_time`, b.block_time, TIME);
  const blockNumber = int(`${where}.block_number`, b.block_number);
  if (!Array.isArray(b.events)) fail(`${where}.events`, "not an array");
  const events = b.events;
  const check = kind === "statuses" ? checkStatus : kind === "diffs" ? checkDiff : checkFill;
  events.forEach((e, i) => check(`${where} ${blockNumber} event ${i}`, e));
  if (kind === "fills" && pairedFills) {
    if (events.length % 2 !== 0) fail(where, "odd number of fills");
    for (let i = 0; i < events.length; i += 2) {
      const [a, c] = [events[i][1], events[i + 1][1]];
      if (a.tid !== c.tid) fail(`${where} ${blockNumber} fill ${i}`, "adjacent fills have different tids");
      if (a.side !== "B" || c.side !== "A") {
        fail(`${where} ${blockNumber} fill ${i}`, "buyer must come first");
      }
      if (a.crossed === c.crossed) fail(`${where} ${blockNumber} fill ${i}`, "exactly one side is the taker");
      if (a.px !== c.px || a.sz !== c.sz || a.coin !== c.coin) {
        fail(`${where} ${blockNumber}`, "sides disagree");
      }
    }
  }
  return {
    localTime: b.local_time as string,
    blockTime: b.block_time as string,
    blockNumber,
    events,
  };
}
