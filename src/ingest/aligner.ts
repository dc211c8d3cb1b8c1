/**
 * Pairs the order-status and raw-diff streams into complete blocks, in order, and turns fills into trades.
 *
 * By-block mode: every block has one line per stream, so each stream's block numbers must go up by exactly one;
 * a block is complete when both streams have it. Streaming mode: one event per line; a stream's block is
 * complete when a higher block number appears in it, and a block is complete when both streams have moved past
 * it (blocks without events have no lines, so the numbers between are empty blocks). A gap, a duplicate or a
 * stream running away from the other is reported, never guessed over: the caller re-syncs.
 *
 * @module
 */
import type { BlockInput, BookDiffEvent, Side, StatusEvent, Trade } from "../book/types.ts";
import type { Batch, FillEvent, NodeFill } from "../node/mod.ts";

/** Why the streams can no longer be paired: the caller must re-sync. */
export interface AlignFault {
  readonly kind: "gap" | "duplicate" | "overflow";
  readonly stream: "statuses" | "diffs";
  readonly block: number;
  readonly message: string;
}

/** How to pair the streams. */
export interface AlignerOptions {
  readonly mode: "by-block" | "streaming";
  /** Most blocks one stream may run ahead of the other before it is a fault. */
  readonly maxPending: number;
  /** Streaming mode: the first block seen in each stream may have started before we did (default true). */
  readonly skipFirstBlock?: boolean;
  readonly onBlock: (block: BlockInput) => void;
  readonly onFault: (fault: AlignFault) => void;
}

interface StreamState<E> {
  readonly name: "statuses" | "diffs";
  /** By-block: last block number seen. Streaming: the block being accumulated. */
  last: number | null;
  /** Streaming: lowest block number this stream saw in full (null until known). */
  floor: number | null;
  skip: boolean;
  currentTime: number;
  current: E[];
  /** Complete batches waiting for the other stream: block number → events and time. */
  readonly pending: Map<number, { time: number; events: readonly E[] }>;
}

function stream<E>(name: "statuses" | "diffs", skip: boolean): StreamState<E> {
  return { name, last: null, floor: null, skip, currentTime: 0, current: [], pending: new Map() };
}

/** Pairs statuses and diffs into `BlockInput`s; see the module doc. */
export class BlockAligner {
  readonly #options: AlignerOptions;
  #statuses: StreamState<StatusEvent>;
  #diffs: StreamState<BookDiffEvent>;
  #lastEmitted: number | null = null;
  #lastTime = 0;

  constructor(options: AlignerOptions) {
    this.#options = options;
    const skip = options.skipFirstBlock ?? true;
    this.#statuses = stream("statuses", skip);
    this.#diffs = stream("diffs", skip);
  }

  /** The last block emitted (null before the first or after a reset). */
  get lastEmitted(): number | null {
    return this.#lastEmitted;
  }

  /** Forgets everything: the next lines start a new chain (streaming: their first block is skipped). */
  reset(): void {
    this.#statuses = stream("statuses", true);
    this.#diffs = stream("diffs", true);
    this.#lastEmitted = null;
  }

  /** Streaming: the stream's first block is known to be seen from its start (its first line opened a file). */
  keepFirstBlock(name: "statuses" | "diffs"): void {
    const state = name === "statuses" ? this.#statuses : this.#diffs;
    if (state.last === null) state.skip = false;
  }

  /** Adds one parsed `node_order_statuses_*` line. */
  pushStatuses(batch: Batch<StatusEvent>): void {
    this.#push(this.#statuses, batch);
  }

  /** Adds one parsed `node_raw_book_diffs_*` line. */
  pushDiffs(batch: Batch<BookDiffEvent>): void {
    this.#push(this.#diffs, batch);
  }

  #fault(state: StreamState<unknown>, kind: AlignFault["kind"], block: number, message: string): void {
    this.reset();
    this.#options.onFault({ kind, stream: state.name, block, message });
  }

  #push<E>(state: StreamState<E>, batch: Batch<E>): void {
    if (this.#options.mode === "by-block") this.#pushBlock(state, batch);
    else this.#pushEvent(state, batch);
  }

  #pushBlock<E>(state: StreamState<E>, batch: Batch<E>): void {
    const n = batch.blockNumber;
    if (state.last !== null && n !== state.last + 1) {
      const kind = n <= state.last ? "duplicate" : "gap";
      const message = `${state.name}: block ${n} after ${state.last}`;
      this.#fault(state, kind, n, message);
      state = state.name === "statuses" ? this.#statuses as StreamState<E> : this.#diffs as StreamState<E>;
    }
    state.last = n;
    state.pending.set(n, { time: batch.blockTime, events: batch.events });
    this.#emitPaired(state);
  }

  #emitPaired(state: StreamState<unknown>): void {
    const statuses = this.#statuses;
    const diffs = this.#diffs;
    const n = state.last;
    if (n === null) return;
    const s = statuses.pending.get(n);
    const d = diffs.pending.get(n);
    if (s && d) {
      for (const key of statuses.pending.keys()) if (key <= n) statuses.pending.delete(key);
      for (const key of diffs.pending.keys()) if (key <= n) diffs.pending.delete(key);
      this.#emit({ height: n, time: d.time, statuses: s.events, diffs: d.events });
    } else if (state.pending.size > this.#options.maxPending) {
      this.#fault(
        state,
        "overflow",
        n,
        `${state.name} is ${state.pending.size} blocks ahead of the other stream`,
      );
    }
  }

  #pushEvent<E>(state: StreamState<E>, batch: Batch<E>): void {
    const n = batch.blockNumber;
    if (state.last === null) {
      state.last = n;
      state.currentTime = batch.blockTime;
      state.current = [...batch.events];
      if (!state.skip) state.floor = n;
      return;
    }
    if (n === state.last) {
      for (const event of batch.events) state.current.push(event);
      return;
    }
    if (n < state.last) {
      this.#fault(state, "duplicate", n, `${state.name}: block ${n} after ${state.last}`);
      return;
    }
    // The stream moved past its current block: that block is complete in this stream.
    if (state.floor === null) state.floor = state.skip ? n : state.last;
    if (!(state.skip && state.floor > state.last)) {
      state.pending.set(state.last, { time: state.currentTime, events: state.current });
    }
    state.last = n;
    state.currentTime = batch.blockTime;
    state.current = [...batch.events];
    this.#emitStreaming(state);
  }

  #emitStreaming(state: StreamState<unknown>): void {
    const statuses = this.#statuses;
    const diffs = this.#diffs;
    if (statuses.floor === null || diffs.floor === null || statuses.last === null || diffs.last === null) {
      if (state.pending.size > this.#options.maxPending) {
        this.#fault(state, "overflow", state.last ?? 0, `${state.name} is far ahead of the other stream`);
      }
      return;
    }
    // Every block below both streams' current block is complete in both.
    const end = Math.min(statuses.last, diffs.last);
    let height = this.#lastEmitted === null ? Math.max(statuses.floor, diffs.floor) : this.#lastEmitted + 1;
    for (; height < end; height++) {
      const s = statuses.pending.get(height);
      const d = diffs.pending.get(height);
      statuses.pending.delete(height);
      diffs.pending.delete(height);
      const time = d?.time ?? s?.time ?? this.#lastTime;
      this.#emit({ height, time, statuses: s?.events ?? [], diffs: d?.events ?? [] });
    }
    for (const key of statuses.pending.keys()) if (key < height) statuses.pending.delete(key);
    for (const key of diffs.pending.keys()) if (key < height) diffs.pending.delete(key);
    if (state.pending.size > this.#options.maxPending) {
      this.#fault(state, "overflow", state.last ?? 0, `${state.name} is far ahead of the other stream`);
    }
  }

  #emit(block: BlockInput): void {
    this.#lastEmitted = block.height;
    this.#lastTime = block.time;
    this.#options.onBlock(block);
  }
}

/** Trades out of fills, and the fills that could not be paired. */
export interface TradeResult {
  readonly trades: Trade[];
  /** Lone fills, pairs with the same side or coin, or pairs without exactly one taker. */
  readonly odd: { readonly block: number; readonly tid: number; readonly message: string }[];
}

interface PendingFill {
  readonly block: number;
  readonly user: string;
  readonly fill: NodeFill;
  /** Position in `trades` reserved for this tid's trade (by-block keeps first-appearance order). */
}

function makeTrade(a: PendingFill, b: FillEvent, odd: TradeResult["odd"]): Trade | null {
  const [bUser, bFill] = b;
  const aFill = a.fill;
  if (aFill.side === bFill.side || aFill.coin !== bFill.coin) {
    odd.push({ block: a.block, tid: aFill.tid, message: `fills of tid ${aFill.tid} do not make a trade` });
    return null;
  }
  const [buyer, seller] = aFill.side === "B" ? [a.user, bUser] : [bUser, a.user];
  const bid = aFill.side === "B" ? aFill : bFill;
  const ask = aFill.side === "B" ? bFill : aFill;
  if (bid.crossed === ask.crossed) {
    odd.push({
      block: a.block,
      tid: aFill.tid,
      message: `fills of tid ${aFill.tid} have ${bid.crossed ? "two takers" : "no taker"}`,
    });
  }
  // As the node's own server does: the ask decides when both or neither claim to be the taker.
  const taker = ask.crossed ? ask : bid;
  const side: Side = taker.side;
  return {
    coin: taker.coin,
    side,
    px: taker.px,
    sz: taker.sz,
    hash: taker.hash,
    time: taker.time,
    tid: taker.tid,
    users: [buyer, seller],
  };
}

/**
 * Pairs fills by `tid` into trades. By-block: one line holds a block's fills, a lone fill is odd at the end of
 * its line. Streaming: the two fills may be on different lines; a fill still alone when a later block starts
 * is odd.
 */
export class TradeAssembler {
  readonly #mode: "by-block" | "streaming";
  readonly #pending = new Map<number, PendingFill>();
  #lastBlock: number | null = null;

  constructor(mode: "by-block" | "streaming") {
    this.#mode = mode;
  }

  /** The trades completed by this fills line (in fill order), and any odd fills. */
  push(batch: Batch<FillEvent>): TradeResult {
    const trades: Trade[] = [];
    const odd: TradeResult["odd"] = [];
    const block = batch.blockNumber;
    if (this.#mode === "by-block" && this.#lastBlock !== null && block <= this.#lastBlock) {
      return { trades, odd }; // a duplicate line: its trades were sent already
    }
    if (this.#lastBlock === null || block > this.#lastBlock) {
      for (const [tid, fill] of this.#pending) {
        if (fill.block < block) {
          odd.push({ block: fill.block, tid, message: `fill of tid ${tid} has no counterpart` });
          this.#pending.delete(tid);
        }
      }
      this.#lastBlock = block;
    }
    for (const event of batch.events) {
      const tid = event[1].tid;
      const first = this.#pending.get(tid);
      if (first) {
        this.#pending.delete(tid);
        const trade = makeTrade(first, event, odd);
        if (trade) trades.push(trade);
      } else {
        this.#pending.set(tid, { block, user: event[0], fill: event[1] });
      }
    }
    if (this.#mode === "by-block") {
      for (const [tid] of this.#pending) {
        odd.push({ block, tid, message: `fill of tid ${tid} has no counterpart` });
      }
      this.#pending.clear();
    }
    return { trades, odd };
  }
}
