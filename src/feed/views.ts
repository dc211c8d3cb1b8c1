/**
 * The views: what the watched views of a block look like, serialised once — pure computation, no I/O.
 *
 * This is the core's half of the old fan-out. It knows which view keys are watched (not by whom: that is the
 * registry's business, on the edge) and keeps, per view, what it last produced, so a block that did not change
 * a view produces nothing for it. Given the books and a block's `BookDiff` it returns the block's
 * {@link BlockOutput}; the same output serves every client on every edge. It also builds the first message of
 * a view for a new subscriber, the 24 h figures of the asset contexts and the mids of `allMids`.
 *
 * @module
 */
import type { Books } from "../book/mod.ts";
import type { BookDiff, Coin, L4Order, Trade } from "../book/types.ts";
import type { BlockOutput, ViewMessage, Watch } from "../link/mod.ts";
import {
  allMidsMessage,
  bboJson,
  bboMessage,
  l2BookMessage,
  l4OrdersJson,
  l4SnapshotFromJson,
  l4SnapshotMessage,
  l4UpdatesMessage,
  levelJson,
  levelsJson,
  midsJson,
  tradesMessage,
} from "./messages.ts";
import { assetCtxJson, assetCtxMessage, CtxMemo, DayStats } from "./asset_ctx.ts";
import type { Subscription } from "./subscription.ts";
import { USER_SUBSCRIPTION_TYPES, type UserSubscription } from "./user_requests.ts";

/** The subscriptions the views compute (the per-user ones are `user_streams.ts`'s). */
export type ViewSubscription = Exclude<Subscription, UserSubscription>;

/** Whether a subscription is one of the per-user streams (orderUpdates, userFills, userEvents, candle). */
export function isUserSubscription(sub: Subscription): sub is UserSubscription {
  return USER_SUBSCRIPTION_TYPES.has(sub.type);
}

interface ViewState {
  readonly key: string;
  readonly subscription: ViewSubscription;
  /** What was last produced (levels / bbo / mids / context JSON), to skip blocks that did not change it. */
  last: string | null;
}

/** Whether a coin belongs to an `allMids` dex: "" = the main dex (no `dex:` prefix). */
function inDex(coin: Coin, dex: string): boolean {
  const colon = coin.indexOf(":");
  return dex === "" ? colon < 0 : colon === dex.length && coin.startsWith(dex);
}

function isBookView(type: Subscription["type"]): boolean {
  return type === "l2Book" || type === "bbo";
}

/** The watched views and what each last produced. */
export class Views {
  readonly #views = new Map<string, ViewState>();
  /** Coin → views of that coin (l2Book, bbo, l4Book, trades, activeAssetCtx). */
  readonly #byCoin = new Map<Coin, Set<ViewState>>();
  readonly #midsViews = new Set<ViewState>();
  /** Current mids of every coin with both sides; valid only while an allMids view exists and books are served. */
  #mids: Map<Coin, string> | null = null;
  /** The books being served, null while none is (start-up, re-sync). */
  #books: Books | null = null;
  #height = 0;
  #time = 0;
  /** Rolling 24 h trade figures per coin (asset contexts). */
  readonly #day = new DayStats();
  readonly #ctxMemo = new CtxMemo();

  /** Block time of the last block (or the latest known), ms. */
  get time(): number {
    return this.#time;
  }

  /** Changes whenever the 24 h figures changed (part of the asset contexts' cache key). */
  get dayVersion(): number {
    return this.#day.version;
  }

  /** Whether a view key is watched. */
  has(key: string): boolean {
    return this.#views.has(key);
  }

  /** A view gets its first watcher: computed from now on (its baseline is the current book). */
  watch(message: Watch): void {
    const sub = message.subscription;
    if (isUserSubscription(sub) || this.#views.has(message.key)) return;
    const view: ViewState = { key: message.key, subscription: sub, last: null };
    this.#views.set(message.key, view);
    if (sub.type === "allMids") {
      this.#midsViews.add(view);
      if (this.#mids === null && this.#books !== null) this.#mids = this.#computeMids(this.#books);
      if (this.#mids !== null) view.last = this.#midsOf(sub.dex);
      return;
    }
    let set = this.#byCoin.get(sub.coin);
    if (set === undefined) this.#byCoin.set(sub.coin, set = new Set());
    set.add(view);
    if (this.#books !== null && isBookView(sub.type)) view.last = this.#viewJson(this.#books, sub);
  }

  /** A view lost its last watcher. */
  unwatch(key: string): void {
    const view = this.#views.get(key);
    if (view === undefined) return;
    this.#views.delete(key);
    const sub = view.subscription;
    if (sub.type === "allMids") {
      this.#midsViews.delete(view);
      if (this.#midsViews.size === 0) this.#mids = null;
      return;
    }
    const set = this.#byCoin.get(sub.coin);
    set?.delete(view);
    if (set?.size === 0) this.#byCoin.delete(sub.coin);
  }

  /** Fresh books are served (bootstrap, re-sync): every view starts over from them. */
  serve(books: Books): void {
    this.#books = books;
    this.#height = books.height;
    // A book loaded from a snapshot may not know its block time (0): keep the last one known until a block.
    if (books.time > 0) this.#time = books.time;
    this.#ctxMemo.clear();
    this.#mids = this.#midsViews.size > 0 ? this.#computeMids(books) : null;
    for (const view of this.#views.values()) view.last = null;
  }

  /** No books are served until the next {@link serve} (start-up, re-sync). */
  pause(): void {
    this.#books = null;
  }

  /** A later block time is known (ingest state). */
  noteTime(time: number): void {
    if (time > this.#time) this.#time = time;
  }

  /**
   * One applied block: the messages of every watched view it changed. Without served books (paused) it only
   * notes the block's time and returns an empty output.
   */
  block(books: Books, diff: BookDiff): BlockOutput {
    this.#height = diff.height;
    this.#time = diff.time;
    const views: ViewMessage[] = [];
    const l4: ViewMessage[] = [];
    if (this.#books === null) return this.#output(views, l4, []);
    this.#books = books;
    let midsChanged = false;
    for (const [coin, coinDiff] of diff.coins) {
      this.#ctxMemo.touch(coin);
      if (this.#mids !== null) {
        const mid = books.mid(coin);
        if (mid !== (this.#mids.get(coin) ?? null)) {
          midsChanged = true;
          if (mid === null) this.#mids.delete(coin);
          else this.#mids.set(coin, mid);
        }
      }
      const coinViews = this.#byCoin.get(coin);
      if (coinViews === undefined) continue;
      // l2Book views that differ only in nLevels share one computation (grouped by bucketing).
      let l2Groups: Map<string, ViewState[]> | null = null;
      for (const view of coinViews) {
        const sub = view.subscription;
        if (sub.type !== "l2Book") continue;
        const group = `${sub.params.nSigFigs}|${sub.params.mantissa}`;
        l2Groups ??= new Map();
        const list = l2Groups.get(group);
        if (list === undefined) l2Groups.set(group, [view]);
        else list.push(view);
      }
      if (l2Groups !== null) {
        for (const group of l2Groups.values()) this.#l2(books, coin, diff.time, group, views);
      }
      for (const view of coinViews) {
        const sub = view.subscription;
        if (sub.type === "bbo") {
          const bbo = bboJson(books.bbo(coin));
          if (bbo === view.last) continue;
          view.last = bbo;
          views.push([view.key, bboMessage(coin, diff.time, bbo)]);
        } else if (sub.type === "activeAssetCtx") {
          this.#refreshCtx(view, coin, views);
        } else if (sub.type === "l4Book") {
          if (coinDiff.statuses.length === 0 && coinDiff.diffs.length === 0) continue;
          l4.push([view.key, l4UpdatesMessage(diff.time, diff.height, coinDiff.statuses, coinDiff.diffs)]);
        }
      }
    }
    if (midsChanged) {
      for (const view of this.#midsViews) {
        const mids = this.#midsOf(view.subscription.type === "allMids" ? view.subscription.dex : "");
        if (mids === view.last) continue;
        view.last = mids;
        views.push([view.key, allMidsMessage(mids)]);
      }
    }
    return this.#output(views, l4, []);
  }

  /**
   * One block's trades (they come with the fills stream, after the block): one `trades` message per watched
   * coin, and the asset contexts the trades changed. The 24 h figures take every trade, watched or not.
   */
  trades(trades: readonly Trade[]): BlockOutput {
    this.#day.add(trades);
    for (const trade of trades) this.#ctxMemo.touch(trade.coin);
    const out: ViewMessage[] = [];
    const views: ViewMessage[] = [];
    if (trades.length === 0 || this.#byCoin.size === 0) return this.#output(views, [], out);
    let byCoin: Map<Coin, Trade[]> | null = null;
    for (const trade of trades) {
      if (!this.#views.has(`trades\u0000${trade.coin}`)) continue;
      byCoin ??= new Map();
      let list = byCoin.get(trade.coin);
      if (list === undefined) byCoin.set(trade.coin, list = []);
      list.push(trade);
    }
    if (byCoin !== null) {
      for (const [coin, list] of byCoin) out.push([`trades\u0000${coin}`, tradesMessage(list)]);
    }
    // Trades change the 24 h figures of their coins' asset contexts.
    let last: Coin | null = null;
    for (const trade of trades) {
      if (trade.coin === last) continue;
      last = trade.coin;
      const view = this.#views.get(`activeAssetCtx\u0000${trade.coin}`);
      if (view !== undefined) this.#refreshCtx(view, trade.coin, views);
    }
    return this.#output(views, [], out);
  }

  /**
   * The first message of a watched l2Book, bbo, allMids or activeAssetCtx view at the served books (what the
   * views last produced, so it matches the next block's baseline); null for trades, l4Book, an unwatched key,
   * or while no books are served.
   */
  snapshot(key: string): string | null {
    const view = this.#views.get(key);
    const books = this.#books;
    if (view === undefined || books === null) return null;
    const sub = view.subscription;
    if (sub.type === "trades" || sub.type === "l4Book") return null;
    if (view.last === null) {
      view.last = sub.type === "allMids" ? this.#midsOf(sub.dex) : this.#viewJson(books, sub);
    }
    const content = view.last ?? "";
    if (sub.type === "l2Book") return l2BookMessage(sub.coin, this.timeOf(books), content);
    if (sub.type === "bbo") return bboMessage(sub.coin, this.timeOf(books), content);
    if (sub.type === "activeAssetCtx") return assetCtxMessage(sub.coin, content);
    return allMidsMessage(content);
  }

  /** The `allMids` object of a dex at `books` (the maintained mids when an allMids view keeps them). */
  mids(dex: string, books: Books): string {
    return this.#midsOf(dex, this.#mids ?? this.#computeMids(books));
  }

  /** The asset context of a coin as JSON, with the book fields null while no books are served. */
  assetCtx(coin: Coin): string {
    return this.#ctxJson(this.#books, coin);
  }

  /** The 24 h figures of the start-up backfill go in front of the live ones. */
  absorbOlderDay(day: DayStats): void {
    this.#day.absorbOlder(day);
    this.#ctxMemo.clear();
  }

  /** The block time to put on messages about `books` (its own, or the last known when it has none). */
  timeOf(books: Books): number {
    return books.time > 0 ? books.time : this.#time;
  }

  #output(views: ViewMessage[], l4: ViewMessage[], queued: ViewMessage[]): BlockOutput {
    return { kind: "block", height: this.#height, time: this.#time, views, l4, queued };
  }

  /** l2Book views of one coin with the same bucketing: one book walk and level serialisation. */
  #l2(books: Books, coin: Coin, time: number, group: readonly ViewState[], out: ViewMessage[]): void {
    const first = group[0].subscription;
    if (first.type !== "l2Book") return;
    if (group.length === 1) {
      const levels = levelsJson(books.l2(coin, first.params));
      if (levels !== group[0].last) {
        group[0].last = levels;
        out.push([group[0].key, l2BookMessage(coin, time, levels)]);
      }
      return;
    }
    let max = 0;
    for (const view of group) {
      if (view.subscription.type === "l2Book") max = Math.max(max, view.subscription.params.nLevels);
    }
    // Truncating the deepest view gives every shallower one (bucketing does not depend on nLevels).
    const [bidLevels, askLevels] = books.l2(coin, { ...first.params, nLevels: max });
    const bids = bidLevels.map(levelJson);
    const asks = askLevels.map(levelJson);
    for (const view of group) {
      if (view.subscription.type !== "l2Book") continue;
      const n = view.subscription.params.nLevels;
      const levels = `[[${bids.slice(0, n).join(",")}],[${asks.slice(0, n).join(",")}]]`;
      if (levels === view.last) continue;
      view.last = levels;
      out.push([view.key, l2BookMessage(coin, time, levels)]);
    }
  }

  /** An activeAssetCtx view's context when it changed since the last one produced. */
  #refreshCtx(view: ViewState, coin: Coin, out: ViewMessage[]): void {
    if (this.#books === null) return;
    const ctx = this.#ctxJson(this.#books, coin);
    if (ctx === view.last) return;
    view.last = ctx;
    out.push([view.key, assetCtxMessage(coin, ctx)]);
  }

  #ctxJson(books: Books | null, coin: Coin): string {
    const now = this.#time > 0 ? this.#time : Date.now();
    return this.#ctxMemo.get(
      coin,
      books !== null,
      now,
      () => assetCtxJson(books, coin, this.#day.figures(coin, now)),
    );
  }

  /** Serialised comparable content of an l2Book, bbo or activeAssetCtx view. */
  #viewJson(books: Books, sub: ViewSubscription): string | null {
    if (sub.type === "l2Book") return levelsJson(books.l2(sub.coin, sub.params));
    if (sub.type === "bbo") return bboJson(books.bbo(sub.coin));
    if (sub.type === "activeAssetCtx") return this.#ctxJson(books, sub.coin);
    return null;
  }

  #computeMids(books: Books): Map<Coin, string> {
    const mids = new Map<Coin, string>();
    for (const coin of books.coins()) {
      const mid = books.mid(coin);
      if (mid !== null) mids.set(coin, mid);
    }
    return mids;
  }

  #midsOf(dex: string, mids: ReadonlyMap<Coin, string> | null = this.#mids): string {
    if (mids === null) return "{}";
    if (dex === "") {
      let all = true;
      for (const coin of mids.keys()) {
        if (coin.includes(":")) {
          all = false;
          break;
        }
      }
      if (all) return midsJson(mids);
    }
    const filtered = new Map<Coin, string>();
    for (const [coin, mid] of mids) if (inDex(coin, dex)) filtered.set(coin, mid);
    return midsJson(filtered);
  }
}

/** Orders serialised per event-loop turn when building a large l4Book snapshot. */
export const L4_CHUNK = 4096;

interface L4Job {
  readonly height: number;
  /** Identity of the build (a reset and a new build at the same height must not be confused). */
  readonly token: object;
  readonly text: Promise<string | null>;
}

/**
 * l4Book snapshots of the served books: small ones built at once, large ones serialised in chunks across
 * event-loop turns (the order list is a copy, so later blocks cannot change it), one build per coin and height
 * whatever the number of subscribers waiting for it, the last one cached.
 */
export class L4Snapshots {
  readonly #chunk: number;
  readonly #onFault: (error: unknown) => void;
  #cache: { coin: Coin; height: number; text: string } | null = null;
  /** Coin → build in progress. */
  readonly #jobs = new Map<Coin, L4Job>();
  /** Coin → length of the last snapshot built for it (estimates what a pending snapshot will cost). */
  readonly #sizes = new Map<Coin, number>();

  /** `chunk`: orders per event-loop turn (tests make it small); `onFault`: a build failed (its waiters get null). */
  constructor(options: { chunk?: number; onFault: (error: unknown) => void }) {
    this.#chunk = Math.max(1, options.chunk ?? L4_CHUNK);
    this.#onFault = options.onFault;
  }

  /** Length of the last snapshot built for `coin`, 0 when none was yet. */
  size(coin: Coin): number {
    return this.#sizes.get(coin) ?? 0;
  }

  /** Fresh books: nothing built before applies. */
  reset(): void {
    this.#cache = null;
    this.#jobs.clear();
  }

  /** The snapshot of `coin` at `books`' height: the text, or a promise of it for a large book (null on failure). */
  get(coin: Coin, books: Books, time: number): string | Promise<string | null> {
    const cache = this.#cache;
    if (cache !== null && cache.coin === coin && cache.height === books.height) return cache.text;
    const job = this.#jobs.get(coin);
    if (job !== undefined && job.height === books.height) return job.text;
    const levels = books.l4(coin);
    if (levels[0].length + levels[1].length <= this.#chunk) {
      const text = l4SnapshotMessage(coin, time, books.height, levels);
      this.#cache = { coin, height: books.height, text };
      this.#sizes.set(coin, text.length);
      return text;
    }
    const token = {};
    const text = this.#build(coin, time, books.height, levels, token).catch((error) => {
      this.#onFault(error);
      return null;
    });
    this.#jobs.set(coin, { height: books.height, token, text });
    return text;
  }

  async #build(
    coin: Coin,
    time: number,
    height: number,
    levels: readonly [readonly L4Order[], readonly L4Order[]],
    token: object,
  ): Promise<string> {
    const sides: string[] = [];
    for (const orders of levels) {
      const parts: string[] = [];
      for (let i = 0; i < orders.length; i += this.#chunk) {
        parts.push(l4OrdersJson(orders.slice(i, i + this.#chunk)).slice(1, -1));
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      sides.push(`[${parts.join(",")}]`);
    }
    const text = l4SnapshotFromJson(coin, time, height, sides[0], sides[1]);
    this.#sizes.set(coin, text.length);
    // Unless fresh books came meanwhile (reset), this is the coin's current snapshot.
    if (this.#jobs.get(coin)?.token === token) {
      this.#jobs.delete(coin);
      this.#cache = { coin, height, text };
    }
    return text;
  }
}
