/**
 * The simulator's state in the shapes hlbook serves: full-precision L2 levels of its L4 book and the trades of
 * a block, and a per-block record of both for comparing what a client received at the block it names.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { L4Order, Level, Trade } from "../../src/book/types.ts";
import {
  formatUnits,
  parseUnits,
  type SimBlock,
  type SimNode,
  type Simulator,
  startSimNode,
} from "../../src/sim/mod.ts";
import { l4OrdersJson } from "../../src/feed/messages.ts";

/** Both sides of an L4 book as an `l4Book` snapshot's `levels` (the serialisation hlbook sends). */
export function l4SidesJson(sides: readonly [readonly L4Order[], readonly L4Order[]]): string {
  return `[${l4OrdersJson(sides[0])},${l4OrdersJson(sides[1])}]`;
}

/** Full-precision L2 of L4 sides (what `l2Book` without nSigFigs must show). */
export function l2Of(
  sim: Simulator,
  coin: string,
  sides: readonly [readonly L4Order[], readonly L4Order[]],
  n: number,
) {
  const dec = sim.spec(coin)?.szDecimals ?? 8;
  return sides.map((orders) => {
    const levels: Level[] = [];
    let px = "";
    let sz = 0n;
    let count = 0;
    const flush = () => {
      if (count > 0) levels.push({ px, sz: formatUnits(sz, dec), n: count });
    };
    for (const o of orders) {
      if (o.limitPx !== px) {
        flush();
        px = o.limitPx;
        sz = 0n;
        count = 0;
      }
      const s = parseUnits(o.sz, dec);
      if (s > 0n) {
        sz += s;
        count++;
      }
    }
    flush();
    return levels.slice(0, n);
  });
}

/** The trades of a block as the `trades` channel shows them (buyer and seller fills share a tid). */
export function tradesOf(block: SimBlock): Trade[] {
  const out: Trade[] = [];
  for (let i = 0; i < block.fills.length; i += 2) {
    const [buyer, b] = block.fills[i];
    const [seller, s] = block.fills[i + 1];
    out.push({
      coin: b.coin,
      side: b.crossed ? "B" : "A",
      px: b.px,
      sz: b.sz,
      hash: b.hash,
      time: b.time,
      tid: b.tid,
      users: [buyer, seller],
    });
    assert.equal(s.tid, b.tid);
  }
  return out;
}

/**
 * The simulator's state after each block, as hlbook should serve it: top-20 full-precision levels and trades,
 * and for `l4Coins` the whole L4 book (as `l4Book` snapshot sides, serialised).
 */
export class SimTruth {
  /** Height → coin → both sides of its L4 book as `l4OrdersJson` writes them. */
  readonly l4 = new Map<number, Map<string, string>>();

  constructor(readonly l4Coins: readonly string[] = []) {}

  /** Block time → height. */
  readonly byTime = new Map<number, number>();
  /** Height → coin → [bids, asks] (top 20). */
  readonly books = new Map<number, Map<string, Level[][]>>();
  /** Height → the block's trades. */
  readonly trades = new Map<number, Trade[]>();

  /** Records the simulator's state at `height` (call from `onBlock`, and once for the start). */
  record(sim: Simulator, height: number, time: number, block: SimBlock | null): void {
    this.byTime.set(time, height);
    const books = new Map<string, Level[][]>();
    for (const coin of sim.coins()) books.set(coin, l2Of(sim, coin, sim.l4(coin), 20));
    this.books.set(height, books);
    if (this.l4Coins.length > 0) {
      const l4 = new Map<string, string>();
      for (const coin of this.l4Coins) l4.set(coin, l4SidesJson(sim.l4(coin)));
      this.l4.set(height, l4);
    }
    this.trades.set(height, block === null ? [] : tradesOf(block));
  }

  /** The top-20 levels of `coin` at the block with time `time`, or undefined before recording began. */
  bookAt(coin: string, time: number): Level[][] | undefined {
    const height = this.byTime.get(time);
    return height === undefined ? undefined : this.books.get(height)?.get(coin);
  }

  /** Every recorded trade by tid. */
  tradeByTid(): Map<number, Trade> {
    const out = new Map<number, Trade>();
    for (const list of this.trades.values()) for (const trade of list) out.set(trade.tid, trade);
    return out;
  }
}

/**
 * A live simulated node (15 blocks/s, load 0.15, its info server on a free port) writing into `dataDir`,
 * with the {@link SimTruth} of every block it writes, from its start on.
 */
export async function startRecordedNode(
  dataDir: string,
  options: { readonly seed: number; readonly l4Coins?: readonly string[] },
): Promise<{ node: SimNode; truth: SimTruth }> {
  const truth = new SimTruth(options.l4Coins);
  const node = await startSimNode({
    dataDir,
    infoPort: 0,
    rate: 15,
    load: 0.15,
    seed: options.seed,
    onBlock: (block, sim) => truth.record(sim, block.height, block.time, block),
  });
  truth.record(node.sim, node.height, node.sim.time, null);
  return { node, truth };
}
