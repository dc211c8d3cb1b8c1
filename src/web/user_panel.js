/**
 * The page's user panel: type an address, see its open orders and latest fills, live. It uses the public API
 * like any client (`orderUpdates` and `userFills` on the page's socket, `openOrders` over `POST /info`) and
 * writes wire data with `textContent` only. State lives in `user_logic.js`.
 *
 * @module
 */
import { FILLS_MAX, normalizeUser, sideText, UserView } from "./user_logic.js";
import { coinLabel, formatClockMs, formatPrice, formatSize } from "./logic.js";

/**
 * @typedef {{
 *   subscribe: (subscription: Record<string, unknown>) => void,
 *   unsubscribe: (subscription: Record<string, unknown>) => void,
 *   spotNames: () => Map<string, string>,
 * }} PanelHost
 */

/** @param {string} id */
function $(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`missing #${id}`);
  return el;
}

/**
 * Wires the panel in `index.html` (`#user`) to the page's socket.
 * @param {PanelHost} host
 */
export function createUserPanel(host) {
  const dom = {
    form: /** @type {HTMLFormElement} */ ($("user-form")),
    input: /** @type {HTMLInputElement} */ ($("user-input")),
    clear: $("user-clear"),
    note: $("user-note"),
    orders: $("user-orders"),
    ordersCount: $("user-orders-count"),
    ordersEmpty: $("user-orders-empty"),
    fills: $("user-fills"),
    fillsEmpty: $("user-fills-empty"),
  };
  /** @type {UserView | null} */
  let view = null;
  let frame = false;
  let loadSeq = 0;
  let ordersLive = false;

  /** @param {string} user */
  const subscriptions = (user) => [{ type: "orderUpdates", user }, { type: "userFills", user }];

  function schedule() {
    if (frame) return;
    frame = true;
    requestAnimationFrame(() => {
      frame = false;
      render();
    });
  }

  async function loadOrders() {
    if (view === null) return;
    const current = view;
    const seq = ++loadSeq;
    current.reloadOrders();
    try {
      const response = await fetch("info", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "openOrders", user: current.user }),
        signal: AbortSignal.timeout(5000),
      });
      const body = await response.json();
      if (view !== current || seq !== loadSeq) return;
      if (!response.ok || !Array.isArray(body)) {
        dom.note.textContent = `Open orders not available: ${body?.error ?? response.status}`;
        dom.note.hidden = false;
        current.seedOrders([]);
      } else current.seedOrders(body);
    } catch {
      if (view === current && seq === loadSeq) current.seedOrders([]);
    }
    schedule();
  }

  /** @param {string | null} user */
  function watch(user) {
    if (view !== null) { for (const sub of subscriptions(view.user)) host.unsubscribe(sub); }
    view = user === null ? null : new UserView(user);
    ordersLive = false;
    dom.note.hidden = true;
    const params = new URLSearchParams(location.hash.slice(1));
    if (user === null) params.delete("user");
    else params.set("user", user);
    history.replaceState(null, "", `#${params}`);
    if (view !== null) {
      for (const sub of subscriptions(view.user)) host.subscribe(sub);
      loadOrders();
    }
    schedule();
  }

  dom.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const user = normalizeUser(dom.input.value);
    if (user === null) {
      dom.note.textContent = "An address is 0x followed by 40 hex digits.";
      dom.note.hidden = false;
      return;
    }
    if (user !== view?.user) watch(user);
  });
  dom.clear.addEventListener("click", () => {
    dom.input.value = "";
    watch(null);
  });

  /** @param {HTMLElement} row @param {string[]} cells @param {string[]} classes */
  function fillRow(row, cells, classes) {
    while (row.children.length < cells.length) row.append(document.createElement("td"));
    cells.forEach((text, i) => {
      const td = /** @type {HTMLElement} */ (row.children[i]);
      if (td.textContent !== text) td.textContent = text;
      td.className = classes[i];
    });
  }

  function render() {
    const names = host.spotNames();
    const orders = view?.orderRows() ?? [];
    const fills = view?.fillRows() ?? [];
    dom.ordersCount.textContent = view === null ? "" : String(orders.length);
    dom.ordersEmpty.hidden = view !== null && orders.length > 0;
    dom.ordersEmpty.textContent = view === null
      ? "Enter an address to see its open orders."
      : view.ordersLoaded
      ? "No open orders."
      : "Loading open orders…";
    const orderRows = orders.map((o, i) => {
      const row = /** @type {HTMLElement} */ (dom.orders.children[i] ?? document.createElement("tr"));
      row.dataset.oid = String(o.oid);
      row.dataset.side = o.side;
      fillRow(row, [
        coinLabel(o.coin, names),
        sideText(o.side),
        formatPrice(o.limitPx),
        formatSize(o.sz),
        formatSize(o.origSz),
        formatClockMs(o.timestamp),
      ], ["", "side", "num px", "num", "num", "num time"]);
      return row;
    });
    dom.orders.replaceChildren(...orderRows);
    dom.fillsEmpty.hidden = view !== null && fills.length > 0;
    dom.fillsEmpty.textContent = view === null
      ? "Enter an address to see its fills."
      : view.fillsLoaded
      ? "No fills kept for this address."
      : "Loading fills…";
    const fillRows = fills.slice(0, FILLS_MAX).map((f, i) => {
      const row = /** @type {HTMLElement} */ (dom.fills.children[i] ?? document.createElement("tr"));
      row.dataset.tid = String(f.tid);
      row.dataset.side = f.side;
      fillRow(row, [
        formatClockMs(f.time),
        coinLabel(f.coin, names),
        f.dir ?? sideText(f.side),
        formatPrice(f.px),
        formatSize(f.sz),
        f.closedPnl !== undefined && f.closedPnl !== "0.0" ? f.closedPnl : "",
        f.liquidation ? "liquidation" : f.crossed ? "taker" : "maker",
      ], ["time", "", "side", "num px", "num", "num", ""]);
      return row;
    });
    dom.fills.replaceChildren(...fillRows);
  }

  const initial = normalizeUser(new URLSearchParams(location.hash.slice(1)).get("user") ?? "");
  if (initial !== null) {
    dom.input.value = initial;
    watch(initial);
  } else schedule();

  return {
    /**
     * Takes the messages of the panel's channels; returns true when it handled one.
     * @param {any} message
     */
    onMessage(message) {
      if (message?.channel === "subscriptionResponse") {
        // orderUpdates messages do not name their user: take them only once this user's subscription is on.
        const sub = message.data?.subscription;
        if (view !== null && message.data?.method === "subscribe" && sub?.type === "orderUpdates") {
          if (String(sub.user).toLowerCase() === view.user) ordersLive = true;
        }
        return false;
      }
      if (view === null) return message?.channel === "orderUpdates" || message?.channel === "userFills";
      if (message?.channel === "orderUpdates" && Array.isArray(message.data)) {
        if (!ordersLive) return true;
        view.applyOrderUpdates(message.data);
        schedule();
        return true;
      }
      if (message?.channel === "userFills" && message.data !== null && typeof message.data === "object") {
        const data = message.data;
        if (!Array.isArray(data.fills) || typeof data.user !== "string") return true;
        // A snapshot follows every (re)subscription: the open orders are asked for again with it.
        if (data.isSnapshot && data.user.toLowerCase() === view.user && view.fillsLoaded) loadOrders();
        view.applyFills(data);
        schedule();
        return true;
      }
      return false;
    },
  };
}
