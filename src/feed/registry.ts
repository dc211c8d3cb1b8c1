/**
 * The registry: which client watches which view key, ref-counted — a view exists only while watched.
 *
 * Edge-side bookkeeping with no knowledge of books or messages: it answers "who gets the message of view K"
 * and tells its owner when a view gets its first watcher or loses its last one (the owner then tells the views
 * to compute it, or to stop).
 *
 * @module
 */
import type { Subscription } from "./subscription.ts";
import type { Client } from "./client.ts";

/** A watched view: its key, what it is, and who watches it. */
export interface WatchedView {
  readonly key: string;
  readonly subscription: Subscription;
  readonly subscribers: Set<Client>;
}

/** Client ↔ view key, both ways. */
export class Registry {
  readonly #views = new Map<string, WatchedView>();
  #subscriptions = 0;

  /** Subscriptions held by all clients. */
  get subscriptions(): number {
    return this.#subscriptions;
  }

  /** The watched view of a key, if any. */
  get(key: string): WatchedView | undefined {
    return this.#views.get(key);
  }

  /** Every watched view. */
  views(): IterableIterator<WatchedView> {
    return this.#views.values();
  }

  /** The client watches `key` (it must not yet): the view, and whether the client is its first watcher. */
  add(client: Client, key: string, subscription: Subscription): { view: WatchedView; first: boolean } {
    let view = this.#views.get(key);
    const first = view === undefined;
    if (view === undefined) {
      view = { key, subscription, subscribers: new Set() };
      this.#views.set(key, view);
    }
    view.subscribers.add(client);
    client.views.set(key, subscription);
    this.#subscriptions++;
    return { view, first };
  }

  /**
   * The client stops watching `key`: the view it watched (undefined when it did not) and whether that was the
   * last watcher (the view is gone).
   */
  remove(client: Client, key: string): { view: WatchedView; last: boolean } | undefined {
    const view = this.#views.get(key);
    client.views.delete(key);
    if (view === undefined || !view.subscribers.delete(client)) return undefined;
    this.#subscriptions--;
    const last = view.subscribers.size === 0;
    if (last) this.#views.delete(key);
    return { view, last };
  }
}
