/**
 * The order-book page: speaks the public WebSocket API at `/ws` like any client, polls `/health`, and renders
 * at most once per animation frame. Everything from the wire is written with `textContent`, never parsed as markup.
 *
 * @module
 */
import {
  backoffDelay,
  buildLadder,
  decimalsOf,
  formatAge,
  formatClock,
  l2Subscription,
  l2ViewKey,
  L4Book,
  padDecimals,
  PRECISIONS,
  pushTrades,
  shortUser,
  sortCoins,
  statusView,
  subscriptionKey,
} from "./logic.js";

const TAPE_MAX = 60;
const L4_MAX_ROWS = 200;
const PING_MS = 30_000;
const HEALTH_MS = 1_000;
const PENDING_FALLBACK_MS = 3_000;

/** @param {string} id */
function $(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`missing #${id}`);
  return el;
}

const dom = {
  coin: /** @type {HTMLSelectElement} */ ($("coin")),
  precision: /** @type {HTMLSelectElement} */ ($("precision")),
  conn: $("conn"),
  phase: $("phase"),
  height: $("height"),
  lag: $("lag"),
  notice: $("notice"),
  book: $("book"),
  asks: $("asks"),
  bids: $("bids"),
  mid: $("mid"),
  spreadText: $("spread-text"),
  bookEmpty: $("book-empty"),
  l4: $("l4"),
  l4Title: $("l4-title"),
  l4Close: $("l4-close"),
  l4Note: $("l4-note"),
  l4Table: $("l4-table"),
  l4Rows: $("l4-rows"),
  tapeRows: $("tape-rows"),
  tapeEmpty: $("tape-empty"),
};

// ---------------------------------------------------------------------------------------------------------
// State

const hash = new URLSearchParams(location.hash.slice(1));
const state = {
  /** @type {string | null} */
  coin: hash.get("coin"),
  precision: PRECISIONS.some((p) => p.key === hash.get("prec"))
    ? /** @type {string} */ (hash.get("prec"))
    : "full",
  /** @type {string[]} */
  coins: [],
  /** @type {{ coin: string, time: number, levels: [any[], any[]] } | null} */
  l2: null,
  /** subscription key whose first message we still wait for (older l2Book messages are ignored meanwhile) */
  /** @type {string | null} */
  l2Pending: null,
  l2PendingSince: 0,
  /** @type {import("./logic.js").TapeTrade[]} */
  tape: [],
  /** @type {{ side: "B" | "A", px: string } | null} */
  selected: null,
  /** `snapshots` counts the Snapshots received on this subscription (more than one = it had to re-sync) */
  /** @type {{ coin: string, book: L4Book | null, note: string, snapshots: number } | null} */
  l4: null,
  lastL4Resync: 0,
  /** @type {"connecting" | "live" | "reconnecting"} */
  conn: "connecting",
  retryAt: 0,
  /** @type {{ phase?: string, height?: number, lagMs?: number | null, blockTime?: number } | null} */
  health: null,
  healthOk: false,
  /** latest block time seen on any channel: the clock for ages */
  blockTime: 0,
  /** @type {string | null} */
  notice: null,
  noticeSticky: false,
};

const dirty = { ladder: true, tape: true, l4: true, status: true, notice: true };
let frameRequested = false;

function scheduleRender() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    render();
  });
}

/** @param {keyof typeof dirty} part */
function touch(part) {
  dirty[part] = true;
  scheduleRender();
}

// ---------------------------------------------------------------------------------------------------------
// Connection: one socket, every subscription replayed after a reconnect

class Feed {
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    /** @type {Map<string, Record<string, unknown>>} */
    this.subscriptions = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
  }

  connect() {
    clearTimeout(this.retryTimer);
    state.conn = this.attempt === 0 ? "connecting" : "reconnecting";
    touch("status");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let heard = false;
    socket.addEventListener("open", () => {
      for (const subscription of this.subscriptions.values()) {
        this.#send({ method: "subscribe", subscription });
      }
      this.pingTimer = setInterval(() => this.#send({ method: "ping" }), PING_MS);
      state.conn = "live";
      touch("status");
    });
    socket.addEventListener("message", (event) => {
      if (!heard) {
        heard = true;
        this.attempt = 0;
      }
      let message;
      try {
        message = JSON.parse(String(event.data));
      } catch {
        return;
      }
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(this.pingTimer);
      if (this.socket !== socket) return;
      this.socket = null;
      const delay = backoffDelay(this.attempt++);
      state.conn = "reconnecting";
      state.retryAt = Date.now() + delay;
      onDisconnect(event.code);
      touch("status");
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** @param {Record<string, unknown>} subscription */
  subscribe(subscription) {
    const key = subscriptionKey(subscription);
    if (this.subscriptions.has(key)) return;
    this.subscriptions.set(key, subscription);
    this.#send({ method: "subscribe", subscription });
  }

  /** @param {Record<string, unknown>} subscription */
  unsubscribe(subscription) {
    const key = subscriptionKey(subscription);
    const sent = this.subscriptions.get(key);
    if (sent === undefined) return;
    this.subscriptions.delete(key);
    this.#send({ method: "unsubscribe", subscription: sent });
  }

  /** @param {unknown} message */
  #send(message) {
    if (this.socket !== null && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }
}

const wsUrl = new URL("ws", location.href);
wsUrl.protocol = location.protocol === "https:" ? "wss:" : "ws:";
const feed = new Feed(wsUrl.href);

function currentL2() {
  return state.coin === null ? null : l2Subscription(state.coin, state.precision);
}

/** @param {string | null} coin */
function marketSubscriptions(coin) {
  return coin === null ? [] : [{ type: "trades", coin }];
}

/**
 * Switches coin and/or precision: unsubscribes what no longer applies, subscribes the new views.
 * @param {string | null} coin
 * @param {string} precision
 */
function select(coin, precision) {
  if (state.noticeSticky) notify(null);
  const oldL2 = currentL2();
  const coinChanged = coin !== state.coin;
  if (oldL2 !== null) feed.unsubscribe(oldL2);
  if (coinChanged) {
    for (const sub of marketSubscriptions(state.coin)) feed.unsubscribe(sub);
    state.tape = [];
    touch("tape");
  }
  closeL4();
  state.coin = coin;
  state.precision = precision;
  state.l2 = null;
  const l2 = currentL2();
  if (l2 !== null) {
    state.l2Pending = l2ViewKey(l2);
    state.l2PendingSince = Date.now();
    feed.subscribe(l2);
  }
  if (coinChanged) { for (const sub of marketSubscriptions(coin)) feed.subscribe(sub); }
  const params = new URLSearchParams();
  if (coin !== null) params.set("coin", coin);
  params.set("prec", precision);
  history.replaceState(null, "", `#${params}`);
  renderCoinOptions();
  dom.precision.value = precision;
  touch("ladder");
}

/** @param {"B" | "A"} side @param {string} px */
function openL4(side, px) {
  if (state.coin === null) return;
  if (state.noticeSticky) notify(null);
  state.selected = { side, px };
  if (state.l4 === null || state.l4.coin !== state.coin) {
    closeL4Subscription();
    state.l4 = { coin: state.coin, book: null, note: "Loading orders…", snapshots: 0 };
    feed.subscribe({ type: "l4Book", coin: state.coin });
  }
  touch("l4");
  touch("ladder");
  if (matchMedia("(max-width: 760px)").matches) {
    requestAnimationFrame(() => dom.l4.scrollIntoView({ block: "nearest", behavior: "smooth" }));
  }
}

function closeL4Subscription() {
  if (state.l4 !== null) feed.unsubscribe({ type: "l4Book", coin: state.l4.coin });
  state.l4 = null;
}

function closeL4() {
  closeL4Subscription();
  state.selected = null;
  touch("l4");
  touch("ladder");
}

function resyncL4() {
  if (state.l4 === null) return;
  const sub = { type: "l4Book", coin: state.l4.coin };
  state.l4.book = null;
  state.l4.note = "Re-syncing orders…";
  state.lastL4Resync = Date.now();
  feed.unsubscribe(sub);
  feed.subscribe(sub);
  touch("l4");
}

/**
 * The socket closed: everything is re-subscribed on reconnect, except an L4 stream the server found too much
 * for this client (close code 1008 = too slow), which would otherwise get it closed again and again.
 * @param {number} code
 */
function onDisconnect(code) {
  if (code === 1008 && state.l4 !== null) {
    const coin = state.l4.coin;
    closeL4();
    notify(
      `The server closed the connection as too slow while it streamed the ${coin} orders; the order list was closed.`,
      true,
    );
  }
  if (state.l4 !== null) {
    state.l4.book = null;
    state.l4.note = "Reconnecting…";
  }
  const l2 = currentL2();
  state.l2Pending = l2 === null ? null : l2ViewKey(l2);
  state.l2PendingSince = Date.now();
  touch("l4");
  touch("ladder");
}

/**
 * Shows (or clears, with null) the notice line. Server errors clear on the next successful subscription; a
 * sticky notice stays until the user picks something.
 * @param {string | null} text
 * @param {boolean} [sticky]
 */
function notify(text, sticky = false) {
  state.notice = text;
  state.noticeSticky = sticky && text !== null;
  touch("notice");
}

// ---------------------------------------------------------------------------------------------------------
// Messages

/** @param {any} message */
function onMessage(message) {
  if (message === null || typeof message !== "object") return;
  const data = message.data;
  switch (message.channel) {
    case "l2Book":
      return onL2(data);
    case "trades":
      return onTrades(data);
    case "l4Book":
      return onL4(data);
    case "allMids":
      return onMids(data);
    case "subscriptionResponse":
      return onSubscriptionResponse(data);
    case "hlbookStatus":
      return onStatus(data);
    case "error":
      notify(typeof data === "string" ? data : JSON.stringify(data));
      return;
    default:
      return;
  }
}

/** @param {any} data */
function onSubscriptionResponse(data) {
  if (data?.method !== "subscribe" || typeof data.subscription !== "object" || data.subscription === null) {
    return;
  }
  if (state.l2Pending !== null && l2ViewKey(data.subscription) === state.l2Pending) {
    state.l2Pending = null;
  }
  if (state.notice !== null && !state.noticeSticky) notify(null);
}

/** @param {any} data */
function onL2(data) {
  if (data?.coin !== state.coin || !Array.isArray(data.levels)) return;
  if (state.l2Pending !== null && Date.now() - state.l2PendingSince < PENDING_FALLBACK_MS) return;
  state.l2Pending = null;
  state.l2 = data;
  noteBlockTime(data.time);
  touch("ladder");
  if (state.selected !== null) touch("l4");
}

/** @param {any} data */
function onTrades(data) {
  if (!Array.isArray(data)) return;
  const mine = data.filter((t) => t?.coin === state.coin);
  if (mine.length === 0) return;
  state.tape = pushTrades(state.tape, mine, TAPE_MAX);
  noteBlockTime(mine[mine.length - 1].time);
  touch("tape");
}

/** @param {any} data */
function onL4(data) {
  const l4 = state.l4;
  if (l4 === null || data === null || typeof data !== "object") return;
  if (data.Snapshot !== undefined) {
    if (data.Snapshot.coin !== l4.coin) return;
    l4.book = new L4Book(data.Snapshot);
    l4.snapshots++;
    noteBlockTime(data.Snapshot.time);
    touch("l4");
  } else if (data.Updates !== undefined && l4.book !== null) {
    const outcome = l4.book.applyUpdates(data.Updates);
    noteBlockTime(data.Updates.time);
    if (!outcome.ok && Date.now() - state.lastL4Resync > 2000) resyncL4();
    touch("l4");
  }
}

/** @param {any} data */
function onMids(data) {
  const mids = data?.mids;
  if (mids === null || typeof mids !== "object") return;
  const coins = sortCoins(Object.keys(mids));
  if (coins.length !== state.coins.length || coins.some((c, i) => c !== state.coins[i])) {
    state.coins = coins;
    renderCoinOptions();
  }
  if (state.coin === null && coins.length > 0) {
    select(coins.includes("BTC") ? "BTC" : coins[0], state.precision);
  }
}

/** @param {any} data */
function onStatus(data) {
  if (data === null || typeof data !== "object") return;
  state.health = { ...state.health, phase: data.phase, height: data.height, blockTime: data.time };
  state.healthOk = true;
  touch("status");
}

/** @param {unknown} time */
function noteBlockTime(time) {
  if (typeof time === "number" && time > state.blockTime) state.blockTime = time;
}

async function pollHealth() {
  try {
    const response = await fetch("health", { cache: "no-store", signal: AbortSignal.timeout(2000) });
    const body = await response.json();
    state.health = body;
    state.healthOk = true;
  } catch {
    state.healthOk = false;
  }
  touch("status");
  if (state.selected !== null) touch("l4");
}

// ---------------------------------------------------------------------------------------------------------
// Rendering (only touched parts, at most once per frame)

function render() {
  if (dirty.status) renderStatus();
  if (dirty.notice) renderNotice();
  if (dirty.ladder) renderLadder();
  if (dirty.tape) renderTape();
  if (dirty.l4) renderL4();
  for (const key of /** @type {(keyof typeof dirty)[]} */ (Object.keys(dirty))) dirty[key] = false;
}

function renderCoinOptions() {
  const current = state.coin;
  const options = state.coins.map((coin) => {
    const option = document.createElement("option");
    option.value = coin;
    option.textContent = coin;
    return option;
  });
  if (current !== null && !state.coins.includes(current)) {
    const option = document.createElement("option");
    option.value = current;
    option.textContent = current;
    options.unshift(option);
  }
  dom.coin.replaceChildren(...options);
  dom.coin.value = current ?? "";
}

function renderStatus() {
  const view = statusView({
    conn: state.conn,
    retryInMs: state.retryAt - Date.now(),
    health: state.healthOk ? state.health : null,
  });
  dom.conn.dataset.state = state.conn;
  setText(dom.conn, view.connText);
  dom.phase.dataset.phase = view.phase;
  setText(dom.phase, view.phaseText);
  setText(dom.height, view.heightText);
  setText(dom.lag, view.lagText);
  dom.book.dataset.live = String(view.live);
}

function renderNotice() {
  dom.notice.hidden = state.notice === null;
  dom.notice.textContent = state.notice ?? "";
}

/** @type {{ B: HTMLElement[], A: HTMLElement[] }} */
const rowPool = { B: [], A: [] };

/** @param {"B" | "A"} side */
function makeRow(side) {
  const row = document.createElement("div");
  row.className = "row";
  row.setAttribute("role", "listitem");
  row.tabIndex = 0;
  row.dataset.side = side;
  for (const cls of ["px", "sz", "cum"]) {
    const cell = document.createElement("span");
    cell.className = cls;
    row.append(cell);
  }
  const open = () => {
    const px = row.dataset.px;
    if (px !== undefined) openL4(side, px);
  };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open();
    }
  });
  return row;
}

/**
 * @param {"B" | "A"} side
 * @param {HTMLElement} container
 * @param {import("./logic.js").LadderRow[]} rows
 * @param {import("./logic.js").Ladder} ladder
 */
function renderSide(side, container, rows, ladder) {
  const pool = rowPool[side];
  while (pool.length < rows.length) {
    const row = makeRow(side);
    pool.push(row);
    container.append(row);
  }
  for (let i = 0; i < pool.length; i++) {
    const el = pool[i];
    const row = rows[i];
    if (row === undefined) {
      el.hidden = true;
      delete el.dataset.px;
      continue;
    }
    el.hidden = false;
    el.dataset.px = row.px;
    el.dataset.sz = row.sz;
    el.dataset.n = String(row.n);
    el.title = `${row.n} order${row.n === 1 ? "" : "s"}`;
    const [px, sz, cum] = /** @type {HTMLElement[]} */ ([...el.children]);
    setText(px, padDecimals(row.px, ladder.pxDecimals));
    setText(sz, padDecimals(row.sz, ladder.szDecimals));
    setText(cum, padDecimals(row.cum, ladder.szDecimals));
    el.style.setProperty("--depth", row.depth.toFixed(4));
    const selected = state.selected !== null && state.selected.side === side && state.selected.px === row.px;
    el.classList.toggle("selected", selected);
  }
}

/** @param {HTMLElement} el @param {string} text */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function renderLadder() {
  const l2 = state.l2;
  if (l2 === null) {
    renderSide("B", dom.bids, [], buildLadder([[], []]));
    renderSide("A", dom.asks, [], buildLadder([[], []]));
    dom.bookEmpty.hidden = false;
    setText(dom.bookEmpty, state.coin === null ? "Waiting for the coin list…" : "Waiting for the book…");
    setText(dom.mid, "–");
    setText(dom.spreadText, "spread –");
    dom.book.dataset.state = "empty";
    return;
  }
  const ladder = buildLadder(l2.levels);
  renderSide("B", dom.bids, ladder.bids, ladder);
  renderSide("A", dom.asks, ladder.asks, ladder);
  dom.bookEmpty.hidden = ladder.bids.length + ladder.asks.length > 0;
  setText(dom.bookEmpty, "The book is empty.");
  setText(dom.mid, ladder.mid === null ? "–" : ladder.mid);
  setText(
    dom.spreadText,
    ladder.spread === null ? "spread –" : `spread ${ladder.spread} (${ladder.spreadBps} bps)`,
  );
  dom.book.dataset.state = "ready";
  dom.book.dataset.time = String(l2.time);
  dom.book.dataset.coin = l2.coin;
}

/** @type {HTMLTableRowElement[]} */
const tapePool = [];

function renderTape() {
  const tape = state.tape;
  const szDecimals = tape.reduce((max, t) => Math.max(max, decimalsOf(t.sz)), 0);
  while (tapePool.length < tape.length) {
    const tr = document.createElement("tr");
    for (const cls of ["time", "num px", "num sz"]) {
      const td = document.createElement("td");
      td.className = cls;
      tr.append(td);
    }
    tapePool.push(tr);
    dom.tapeRows.append(tr);
  }
  for (let i = 0; i < tapePool.length; i++) {
    const tr = tapePool[i];
    const trade = tape[i];
    if (trade === undefined) {
      tr.hidden = true;
      continue;
    }
    tr.hidden = false;
    tr.dataset.side = trade.side;
    tr.dataset.tid = String(trade.tid);
    tr.dataset.px = trade.px;
    tr.dataset.sz = trade.sz;
    tr.title = trade.side === "B" ? "Buy (taker bought)" : "Sell (taker sold)";
    const [time, px, sz] = /** @type {HTMLElement[]} */ ([...tr.children]);
    setText(time, formatClock(trade.time));
    setText(px, trade.px);
    setText(sz, padDecimals(trade.sz, Math.min(szDecimals, 8)));
  }
  dom.tapeEmpty.hidden = tape.length > 0;
}

function renderL4() {
  const selected = state.selected;
  const l4 = state.l4;
  dom.l4.hidden = selected === null;
  if (selected === null || l4 === null) return;
  dom.l4.dataset.snapshots = String(l4.snapshots);
  dom.l4.dataset.height = String(l4.book?.height ?? 0);
  const sideName = selected.side === "B" ? "Bids" : "Asks";
  setText(dom.l4Title, `${sideName} at ${selected.px}`);
  const levels = state.l2 === null ? [] : state.l2.levels[selected.side === "B" ? 0 : 1];
  const index = levels.findIndex((/** @type {{ px: string }} */ level) => level.px === selected.px);
  if (l4.book === null || index < 0) {
    dom.l4Table.hidden = true;
    dom.l4Note.hidden = false;
    setText(dom.l4Note, l4.book === null ? l4.note : "This level is no longer in the book.");
    return;
  }
  const orders = l4.book.levelOrders(selected.side, levels, index);
  setText(
    dom.l4Title,
    `${sideName} at ${selected.px} · ${orders.length} order${orders.length === 1 ? "" : "s"}`,
  );
  const now = state.blockTime > 0 ? state.blockTime : Date.now();
  const shown = orders.slice(0, L4_MAX_ROWS);
  const szDecimals = shown.reduce((max, o) => Math.max(max, decimalsOf(o.sz)), 0);
  const rows = shown.map((order) => {
    const tr = document.createElement("tr");
    const user = document.createElement("td");
    user.className = "user";
    user.textContent = shortUser(order.user);
    user.title = order.user;
    const oid = document.createElement("td");
    oid.className = "oid";
    oid.textContent = String(order.oid);
    if (order.px !== selected.px) oid.title = `price ${order.px}`;
    const sz = document.createElement("td");
    sz.className = "num";
    sz.textContent = padDecimals(order.sz, szDecimals);
    const age = document.createElement("td");
    age.className = "num age";
    age.textContent = formatAge(now - order.timestamp);
    tr.append(user, oid, sz, age);
    return tr;
  });
  dom.l4Rows.replaceChildren(...rows);
  dom.l4Table.hidden = rows.length === 0;
  dom.l4Note.hidden = rows.length > 0 && orders.length <= L4_MAX_ROWS;
  setText(
    dom.l4Note,
    rows.length === 0 ? "No orders at this level." : `Showing ${L4_MAX_ROWS} of ${orders.length} orders.`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Start

dom.precision.replaceChildren(...PRECISIONS.map((p) => {
  const option = document.createElement("option");
  option.value = p.key;
  option.textContent = p.label;
  return option;
}));
dom.precision.value = state.precision;
dom.coin.addEventListener("change", () => select(dom.coin.value, state.precision));
dom.precision.addEventListener("change", () => select(state.coin, dom.precision.value));
dom.l4Close.addEventListener("click", () => closeL4());
addEventListener("hashchange", () => {
  const params = new URLSearchParams(location.hash.slice(1));
  const coin = params.get("coin") ?? state.coin;
  const prec = params.get("prec");
  const precision = PRECISIONS.some((p) => p.key === prec) ? /** @type {string} */ (prec) : state.precision;
  if (coin !== state.coin || precision !== state.precision) select(coin, precision);
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.selected !== null) closeL4();
});

feed.subscribe({ type: "allMids" });
if (state.coin !== null) {
  const initial = state.coin;
  state.coin = null;
  select(initial, state.precision);
}
feed.connect();
pollHealth();
setInterval(pollHealth, HEALTH_MS);
setInterval(() => {
  if (state.conn === "reconnecting") touch("status");
}, 500);
