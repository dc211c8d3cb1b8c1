/**
 * A deliberately simple reference L4 book that applies node blocks by the rules of docs/node-files.md (order
 * entry from the same block's inserting status, HIP-2 orders from their diff, `insertBefore`, trigger
 * conversion, `update`, `remove`). Tests use it to check that the simulator's files replay to the
 * simulator's own book, and check it first on the real mainnet fixture.
 *
 * @module
 */
import type { NodeOrder, SnapshotFile } from "../../src/book/types.ts";

type Entry = [string, NodeOrder];
// deno-lint-ignore no-explicit-any
type Json = any;

const SPECIAL = new Set([
  "0xffffffffffffffffffffffffffffffffffffffff",
  "0xfefefefefefefefefefefefefefefefefefefefe",
]);

/** Price as a comparable bigint at 1e-8 resolution. */
function pxKey(px: string): bigint {
  const [i, f = ""] = px.split(".");
  return BigInt(i + f.padEnd(8, "0").slice(0, 8));
}

/** One coin: per side, levels in a Map keyed by price string; sorted on export. */
class RefBook {
  readonly sides = { B: new Map<string, Entry[]>(), A: new Map<string, Entry[]>() };
}

/** The reference book over all coins. */
export class RefBooks {
  height: number;
  readonly coins = new Map<string, RefBook>();
  readonly where = new Map<number, { coin: string; side: "B" | "A"; px: string }>();

  constructor(snapshot: SnapshotFile) {
    this.height = snapshot[0];
    for (const [coin, [bids, asks]] of snapshot[1]) {
      const book = this.#book(coin);
      for (const [user, order] of [...bids, ...asks]) {
        if (order.isTrigger) continue;
        const level = book.sides[order.side].get(order.limitPx) ?? [];
        level.push([user, order]);
        book.sides[order.side].set(order.limitPx, level);
        this.where.set(order.oid, { coin, side: order.side, px: order.limitPx });
      }
    }
  }

  #book(coin: string): RefBook {
    let book = this.coins.get(coin);
    if (!book) this.coins.set(coin, book = new RefBook());
    return book;
  }

  /** Resting order by oid, if any. */
  order(oid: number): Entry | undefined {
    const at = this.where.get(oid);
    if (!at) return undefined;
    return this.coins.get(at.coin)?.sides[at.side].get(at.px)?.find(([, o]) => o.oid === oid);
  }

  /** Apply one block's statuses and diffs; throws on anything the rules call out of sync. */
  apply(height: number, blockTimeMs: number, statuses: readonly Json[], diffs: readonly Json[]): void {
    if (height !== this.height + 1) throw new Error(`expected block ${this.height + 1}, got ${height}`);
    const inserting = new Map<number, Json>();
    for (const s of statuses) {
      const o = s.order;
      if (
        (s.status === "open" && !o.isTrigger && o.tif !== "Ioc") || (s.status === "triggered" && o.isTrigger)
      ) {
        inserting.set(o.oid, s);
      }
    }
    for (const d of diffs) {
      const book = this.#book(d.coin);
      const side = book.sides[d.side as "B" | "A"];
      const raw = d.raw_book_diff;
      if (raw === "remove" || "update" in raw) {
        const level = side.get(d.px);
        const i = level ? level.findIndex(([, o]) => o.oid === d.oid) : -1;
        if (!level || i < 0) throw new Error(`block ${height}: diff for unknown order ${d.oid}`);
        if (raw === "remove") {
          level.splice(i, 1);
          if (level.length === 0) side.delete(d.px);
          this.where.delete(d.oid);
        } else {
          if (pxKey(level[i][1].sz) !== pxKey(raw.update.origSz)) {
            throw new Error(
              `block ${height}: update origSz ${raw.update.origSz} ≠ resting ${level[i][1].sz}`,
            );
          }
          level[i] = [level[i][0], { ...level[i][1], sz: raw.update.newSz }];
        }
        continue;
      }
      if (this.where.has(d.oid)) throw new Error(`block ${height}: new for resting oid ${d.oid}`);
      const status = inserting.get(d.oid);
      let order: NodeOrder;
      if (status) {
        inserting.delete(d.oid);
        const o = status.order;
        order = o.isTrigger
          ? {
            ...o,
            sz: raw.new.sz,
            timestamp: Date.parse(status.time.slice(0, 23) + "Z"),
            isTrigger: false,
            triggerPx: "0.0",
            triggerCondition: "Triggered",
            tif: "Gtc",
          }
          : { ...o, sz: raw.new.sz };
      } else if (SPECIAL.has(d.user)) {
        order = {
          coin: d.coin,
          side: d.side,
          limitPx: d.px,
          sz: raw.new.sz,
          oid: d.oid,
          timestamp: blockTimeMs,
          triggerCondition: "N/A",
          isTrigger: false,
          triggerPx: "0.0",
          children: [],
          isPositionTpsl: false,
          reduceOnly: false,
          orderType: "Limit",
          origSz: raw.new.sz,
          tif: "Alo",
          cloid: null,
        };
      } else throw new Error(`block ${height}: new without inserting status for ${d.oid}`);
      if (order.limitPx !== d.px) {
        throw new Error(`block ${height}: ${d.oid} rests at ${d.px}, limit ${order.limitPx}`);
      }
      const level = side.get(d.px) ?? [];
      const before = raw.new.insertBefore;
      if (before !== undefined && before !== null) {
        const i = level.findIndex(([, o]) => o.oid === before);
        if (i < 0) throw new Error(`block ${height}: insertBefore ${before} not resting at ${d.px}`);
        level.splice(i, 0, [d.user, order]);
      } else level.push([d.user, order]);
      side.set(d.px, level);
      this.where.set(d.oid, { coin: d.coin, side: d.side, px: d.px });
    }
    this.height = height;
  }

  /** The book as a snapshot file (coins sorted, empty books omitted, zero-size orders dropped). */
  toSnapshot(): SnapshotFile {
    const coins = [...this.coins.keys()].sort().flatMap((coin) => {
      const book = this.coins.get(coin) as RefBook;
      const side = (s: "B" | "A") =>
        [...book.sides[s].entries()]
          .sort(([a], [b]) => {
            const d = pxKey(a) - pxKey(b);
            return (s === "B" ? -d : d) > 0n ? 1 : -1;
          })
          .flatMap(([, level]) => level.filter(([, o]) => pxKey(o.sz) > 0n));
      const bids = side("B");
      const asks = side("A");
      return bids.length + asks.length === 0 ? [] : [[coin, [bids, asks]] as const];
    });
    return [this.height, coins];
  }
}

/** A snapshot normalised for comparison: coins sorted, empty books omitted. */
export function normalizeSnapshot(snapshot: SnapshotFile): SnapshotFile {
  const coins = [...snapshot[1]]
    .filter(([, [bids, asks]]) => bids.length + asks.length > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [snapshot[0], coins];
}
