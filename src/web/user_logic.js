/**
 * Pure logic of the page's user panel (a user's open orders and fills), separate from the DOM so it is tested
 * in Deno: address validation, folding `orderUpdates` into the open orders seeded by `openOrders`, keeping the
 * newest fills of `userFills`, and the rows the panel shows.
 *
 * @module
 */

/** Most fills the panel keeps. */
export const FILLS_MAX = 100;

/**
 * The address in lower case, or null when `text` is not `0x` + 40 hex digits (spaces around are ignored).
 * @param {string} text
 * @returns {string | null}
 */
export function normalizeUser(text) {
  const t = text.trim();
  return /^0x[0-9a-fA-F]{40}$/.test(t) ? t.toLowerCase() : null;
}

/**
 * @typedef {{ coin: string, side: "B" | "A", limitPx: string, sz: string, oid: number, timestamp: number,
 *   origSz: string, cloid?: string }} OpenOrder
 * @typedef {{ order: OpenOrder, status: string, statusTimestamp: number }} WsOrder
 * @typedef {{ coin: string, px: string, sz: string, side: "B" | "A", time: number, dir?: string,
 *   closedPnl?: string, fee?: string, oid: number, tid: number, crossed?: boolean, liquidation?: unknown }} Fill
 */

/** Statuses after which an order still rests. */
const RESTING = new Set(["open", "triggered"]);

/**
 * One user's orders and fills as the panel knows them. Order updates that arrive before the `openOrders`
 * answer are kept and replayed on top of it, so none is lost in between.
 */
export class UserView {
  /** @param {string} user lower-case address */
  constructor(user) {
    this.user = user;
    /** @type {Map<number, OpenOrder>} */
    this.orders = new Map();
    /** @type {Fill[]} newest first */
    this.fills = [];
    this.ordersLoaded = false;
    this.fillsLoaded = false;
    /** @type {WsOrder[][] | null} updates waiting for the openOrders answer */
    this.early = [];
  }

  /**
   * The `openOrders` answer: replaces the open orders, then replays the updates that came meanwhile.
   * @param {OpenOrder[]} orders
   */
  seedOrders(orders) {
    this.orders = new Map(orders.map((o) => [o.oid, o]));
    this.ordersLoaded = true;
    /** @type {WsOrder[][]} */
    const early = this.early ?? [];
    this.early = null;
    for (const updates of early) this.applyOrderUpdates(updates);
  }

  /** Forget the open orders until the next `openOrders` answer (after a reconnect). */
  reloadOrders() {
    this.early = [];
  }

  /**
   * One `orderUpdates` message: an order that is open or triggered rests, any other status ends it.
   * @param {WsOrder[]} updates
   */
  applyOrderUpdates(updates) {
    if (this.early !== null) {
      this.early.push(updates);
      return;
    }
    for (const u of updates) {
      if (RESTING.has(u.status)) this.orders.set(u.order.oid, u.order);
      else this.orders.delete(u.order.oid);
    }
  }

  /**
   * One `userFills` message: a snapshot replaces the fills, an update adds its fills in front.
   * @param {{ user: string, fills: Fill[], isSnapshot?: boolean }} data
   */
  applyFills(data) {
    if (typeof data.user !== "string" || data.user.toLowerCase() !== this.user) return;
    const incoming = [...data.fills].sort((a, b) => b.time - a.time);
    this.fills = (data.isSnapshot ? incoming : [...incoming, ...this.fills]).slice(0, FILLS_MAX);
    this.fillsLoaded = true;
  }

  /** Open orders, newest first. */
  orderRows() {
    return [...this.orders.values()].sort((a, b) => b.timestamp - a.timestamp || b.oid - a.oid);
  }

  /** Fills, newest first. */
  fillRows() {
    return this.fills;
  }
}

/**
 * The side of an order or fill in words.
 * @param {"B" | "A"} side
 */
export function sideText(side) {
  return side === "B" ? "Buy" : "Sell";
}
