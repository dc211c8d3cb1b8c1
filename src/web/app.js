/**
 * The order-book page: speaks the public WebSocket API at `/ws` like any client, polls `/health`, and renders
 * at most once per animation frame. Everything from the wire is written with `textContent`, never parsed as markup.
 *
 * @module
 */
import {
  backoffDelay,
  buildDepth,
  buildLadder,
  coinLabel,
  DEFAULT_LEVELS,
  depthAt,
  depthOutline,
  formatAge,
  formatClockMs,
  formatPrice,
  formatSize,
  l2Subscription,
  l2ViewKey,
  L4Book,
  LEVEL_CHOICES,
  niceTicks,
  PRECISIONS,
  priceDecimals,
  pushTrades,
  shortUser,
  sortCoins,
  spotNames,
  statusView,
  subscriptionKey,
  withQueue,
} from "./logic.js";
import { createUserPanel } from "./user_panel.js";

const TAPE_MAX = 100;
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
  levels: /** @type {HTMLSelectElement} */ ($("levels")),
  market: $("market"),
  feedReason: $("feed-reason"),
  depth: /** @type {HTMLCanvasElement} */ ($("depth")),
  depthBids: $("depth-bids"),
  depthAsks: $("depth-asks"),
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
  levels: LEVEL_CHOICES.includes(Number(hash.get("lv"))) ? Number(hash.get("lv")) : DEFAULT_LEVELS,
  /** @type {string[]} */
  coins: [],
  /** spot pair names from the server's spotMeta, when it answers one */
  /** @type {Map<string, string>} */
  spotNames: new Map(),
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
  /** @type {{ phase?: string, height?: number, lagMs?: number | null, blockTime?: number, reason?: string | null } | null} */
  health: null,
  healthOk: false,
  /** latest block time seen on any channel: the clock for ages */
  blockTime: 0,
  /** @type {string | null} */
  notice: null,
  noticeSticky: false,
};

const dirty = { ladder: true, chart: true, tape: true, l4: true, status: true, notice: true };
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
// With --auth-token the page is opened as `/?token=…`: the WebSocket needs the same token.
const pageToken = new URLSearchParams(location.search).get("token");
if (pageToken !== null) wsUrl.searchParams.set("token", pageToken);
const feed = new Feed(wsUrl.href);

function currentL2() {
  return state.coin === null ? null : l2Subscription(state.coin, state.precision, state.levels);
}

/** @param {string | null} coin */
function marketSubscriptions(coin) {
  return coin === null ? [] : [{ type: "trades", coin }];
}

/**
 * Switches coin, precision and/or levels: unsubscribes what no longer applies, subscribes the new views.
 * @param {string | null} coin
 * @param {string} precision
 * @param {number} [levels]
 */
function select(coin, precision, levels = state.levels) {
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
  state.levels = levels;
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
  if (levels !== DEFAULT_LEVELS) params.set("lv", String(levels));
  const user = new URLSearchParams(location.hash.slice(1)).get("user");
  if (user !== null) params.set("user", user);
  history.replaceState(null, "", `#${params}`);
  renderCoinOptions();
  dom.precision.value = precision;
  dom.levels.value = String(levels);
  touch("ladder");
  touch("chart");
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
  if (userPanel.onMessage(message)) return;
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
  touch("chart");
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
  const reason = data.phase === state.health?.phase ? state.health?.reason : null;
  state.health = { ...state.health, phase: data.phase, height: data.height, blockTime: data.time, reason };
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
  if (dirty.chart) renderChart();
  if (dirty.tape) renderTape();
  if (dirty.l4) renderL4();
  for (const key of /** @type {(keyof typeof dirty)[]} */ (Object.keys(dirty))) dirty[key] = false;
}

function renderCoinOptions() {
  const current = state.coin;
  const options = state.coins.map((coin) => {
    const option = document.createElement("option");
    option.value = coin;
    option.textContent = coinLabel(coin, state.spotNames);
    return option;
  });
  if (current !== null && !state.coins.includes(current)) {
    const option = document.createElement("option");
    option.value = current;
    option.textContent = coinLabel(current, state.spotNames);
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
  dom.phase.title = view.phaseTitle;
  setText(dom.height, view.heightText);
  setText(dom.lag, view.lagText);
  dom.book.dataset.live = String(view.live);
  // Why the feed is not live, in words, when the server said (the badge alone is easy to miss).
  const reason = state.conn === "live" && !view.live && typeof state.health?.reason === "string"
    ? state.health.reason
    : null;
  dom.feedReason.hidden = reason === null;
  setText(dom.feedReason, reason === null ? "" : `Feed ${view.phaseText}: ${reason}`);
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
  for (const cls of ["px", "sz", "cum", "n"]) {
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
 * @param {{ px: number, sz: number }} decimals of the view's prices and sizes
 */
function renderSide(side, container, rows, decimals) {
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
    el.title = `${row.px}: ${row.sz} in ${row.n} order${row.n === 1 ? "" : "s"} (click for the orders)`;
    const [px, sz, cum, n] = /** @type {HTMLElement[]} */ ([...el.children]);
    setText(px, formatPrice(row.px, decimals.px));
    setText(sz, formatSize(row.sz, decimals.sz));
    setText(cum, formatSize(row.cum, decimals.sz));
    setText(n, String(row.n));
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
  setText(dom.market, state.coin === null ? "" : coinLabel(state.coin, state.spotNames));
  if (l2 === null) {
    renderSide("B", dom.bids, [], { px: 0, sz: 0 });
    renderSide("A", dom.asks, [], { px: 0, sz: 0 });
    dom.bookEmpty.hidden = false;
    setText(dom.bookEmpty, state.coin === null ? "Waiting for the coin list…" : "Waiting for the book…");
    setText(dom.mid, "–");
    setText(dom.spreadText, "spread –");
    dom.book.dataset.state = "empty";
    return;
  }
  const ladder = buildLadder(l2.levels);
  const rows = [...ladder.bids, ...ladder.asks];
  const decimals = {
    px: priceDecimals(rows.map((row) => row.px)),
    sz: priceDecimals(rows.map((row) => row.sz)),
  };
  renderSide("B", dom.bids, ladder.bids, decimals);
  renderSide("A", dom.asks, ladder.asks, decimals);
  dom.bookEmpty.hidden = ladder.bids.length + ladder.asks.length > 0;
  setText(dom.bookEmpty, "The book is empty.");
  setText(dom.mid, ladder.mid === null ? "–" : formatPrice(ladder.mid));
  setText(
    dom.spreadText,
    ladder.spread === null ? "spread –" : `spread ${formatPrice(ladder.spread)} (${ladder.spreadBps} bps)`,
  );
  dom.book.dataset.state = "ready";
  dom.book.dataset.time = String(l2.time);
  dom.book.dataset.coin = l2.coin;
}

/** @type {HTMLTableRowElement[]} */
const tapePool = [];

function renderTape() {
  const tape = state.tape;
  const decimals = priceDecimals(tape.map((t) => t.px));
  const szDecimals = priceDecimals(tape.map((t) => t.sz));
  while (tapePool.length < tape.length) {
    const tr = document.createElement("tr");
    for (const cls of ["time", "side", "num px", "num sz"]) {
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
    tr.title = `${trade.side === "B" ? "the taker bought" : "the taker sold"} ${trade.sz} at ${trade.px}`;
    const [time, side, px, sz] = /** @type {HTMLElement[]} */ ([...tr.children]);
    setText(time, formatClockMs(trade.time));
    setText(side, trade.side === "B" ? "Buy" : "Sell");
    setText(px, formatPrice(trade.px, decimals));
    setText(sz, formatSize(trade.sz, szDecimals));
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
  const at = formatPrice(selected.px);
  setText(dom.l4Title, `${sideName} at ${at}`);
  const levels = state.l2 === null ? [] : state.l2.levels[selected.side === "B" ? 0 : 1];
  const index = levels.findIndex((/** @type {{ px: string }} */ level) => level.px === selected.px);
  if (l4.book === null || index < 0) {
    dom.l4Table.hidden = true;
    dom.l4Note.hidden = false;
    setText(dom.l4Note, l4.book === null ? l4.note : "This level is no longer in the book.");
    return;
  }
  const orders = withQueue(l4.book.levelOrders(selected.side, levels, index));
  setText(dom.l4Title, `${sideName} at ${at} · ${orders.length} order${orders.length === 1 ? "" : "s"}`);
  const now = state.blockTime > 0 ? state.blockTime : Date.now();
  const shown = orders.slice(0, L4_MAX_ROWS);
  const decimals = priceDecimals(shown.map((o) => o.px));
  const szDecimals = priceDecimals(shown.map((o) => o.sz));
  const rows = shown.map((order) => {
    const tr = document.createElement("tr");
    tr.dataset.oid = String(order.oid);
    tr.dataset.px = order.px;
    tr.dataset.sz = order.sz;
    tr.dataset.user = order.user;
    tr.dataset.queue = String(order.queue);
    tr.title = `oid ${order.oid}`;
    const cell = (
      /** @type {string} */ cls,
      /** @type {string} */ text,
      /** @type {string} */ title = "",
    ) => {
      const td = document.createElement("td");
      td.className = cls;
      td.textContent = text;
      if (title !== "") td.title = title;
      return td;
    };
    tr.append(
      cell("num px", formatPrice(order.px, decimals)),
      cell("num sz", formatSize(order.sz, szDecimals), order.sz),
      cell("user", shortUser(order.user), order.user),
      cell("num age", formatAge(now - order.timestamp), new Date(order.timestamp).toISOString()),
      cell(
        "num queue",
        `${order.queue} / ${order.queueOf}`,
        `${order.queue - 1} order${order.queue === 2 ? "" : "s"} (${order.ahead}) ahead at ${order.px}`,
      ),
    );
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

/** The chart's colours, read from the page's CSS (they follow the light or dark theme). */
function chartColours() {
  const css = getComputedStyle(document.documentElement);
  const read = (/** @type {string} */ name) => css.getPropertyValue(name).trim();
  return {
    bid: read("--bid"),
    ask: read("--ask"),
    bidFill: read("--bid-fill"),
    askFill: read("--ask-fill"),
    grid: read("--border"),
    text: read("--muted"),
    textStrong: read("--text"),
    panel: read("--panel"),
  };
}

let chartDraws = 0;
/** The pointer's x over the depth chart in CSS pixels, or null when it is elsewhere. */
let chartHover = /** @type {number | null} */ (null);

/** Draws the depth chart of the current view (cumulative size per side, x centred on the mid). */
function renderChart() {
  const canvas = dom.depth;
  const box = canvas.parentElement?.getBoundingClientRect();
  if (box === undefined || box.width < 10 || box.height < 10) return;
  const ratio = devicePixelRatio || 1;
  const width = Math.floor(box.width);
  const height = Math.floor(box.height);
  if (canvas.width !== width * ratio || canvas.height !== height * ratio) {
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d");
  if (ctx === null) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const l2 = state.l2;
  const ladder = l2 === null ? null : buildLadder(l2.levels);
  const depth = ladder === null ? null : buildDepth(ladder);
  canvas.dataset.bids = String(depth?.bids.length ?? 0);
  canvas.dataset.asks = String(depth?.asks.length ?? 0);
  setText(dom.depthBids, ladder?.bids.length ? formatSize(ladder.bids[ladder.bids.length - 1].cum) : "–");
  setText(dom.depthAsks, ladder?.asks.length ? formatSize(ladder.asks[ladder.asks.length - 1].cum) : "–");
  if (depth === null || l2 === null || depth.bids.length + depth.asks.length === 0) {
    delete canvas.dataset.time;
    return;
  }
  const colours = chartColours();
  const axis = 18; // room for the price labels
  const plot = { width: width - 48, height: height - axis, top: 8 };
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  // Grid: price ticks below, size ticks on the right.
  ctx.strokeStyle = colours.grid;
  ctx.fillStyle = colours.text;
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  for (const tick of niceTicks(depth.lo, depth.hi, Math.max(2, Math.floor(plot.width / 110)))) {
    const x = Math.round(((tick.value - depth.lo) / (depth.hi - depth.lo)) * plot.width) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, plot.top);
    ctx.lineTo(x, plot.height);
    ctx.stroke();
    ctx.fillText(formatPrice(tick.text), Math.min(Math.max(x, 28), plot.width - 28), plot.height + 4);
  }
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  for (const tick of niceTicks(0, depth.maxCum, Math.max(2, Math.floor(plot.height / 50)))) {
    if (tick.value === 0) continue;
    const y = Math.round(plot.top + (plot.height - plot.top) * (1 - tick.value / depth.maxCum)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(0, y);
    ctx.lineTo(plot.width, y);
    ctx.stroke();
    ctx.fillText(formatSize(tick.text), plot.width + 6, y);
  }
  for (
    const [points, line, fill] of [
      [depth.bids, colours.bid, colours.bidFill],
      [depth.asks, colours.ask, colours.askFill],
    ]
  ) {
    const outline = depthOutline(/** @type {import("./logic.js").DepthPoint[]} */ (points), depth, plot);
    if (outline.length === 0) continue;
    ctx.beginPath();
    ctx.moveTo(outline[0][0], outline[0][1]);
    for (const [x, y] of outline.slice(1)) ctx.lineTo(x, y);
    ctx.closePath();
    ctx.fillStyle = /** @type {string} */ (fill);
    ctx.fill();
    ctx.beginPath();
    ctx.moveTo(outline[1][0], outline[1][1]);
    for (const [x, y] of outline.slice(2, -1)) ctx.lineTo(x, y);
    ctx.strokeStyle = /** @type {string} */ (line);
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  if (depth.mid !== null) {
    const x = Math.round(((depth.mid - depth.lo) / (depth.hi - depth.lo)) * plot.width) + 0.5;
    ctx.setLineDash([3, 3]);
    ctx.strokeStyle = colours.text;
    ctx.beginPath();
    ctx.moveTo(x, plot.top);
    ctx.lineTo(x, plot.height);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  if (chartHover !== null && chartHover <= plot.width) {
    const px = depth.lo + (chartHover / plot.width) * (depth.hi - depth.lo);
    const at = depthAt(depth, px);
    if (at !== null) {
      const x = Math.round(chartHover) + 0.5;
      ctx.strokeStyle = colours.text;
      ctx.beginPath();
      ctx.moveTo(x, plot.top);
      ctx.lineTo(x, plot.height);
      ctx.stroke();
      /** @type {{ px: string, sz: string }[]} */
      const shown = l2.levels.flat();
      const decimals = priceDecimals(shown.map((level) => level.px));
      const szDecimals = priceDecimals(shown.map((level) => level.sz));
      const lines = [
        `${at.side === "B" ? "Bids" : "Asks"} to ${formatPrice(px.toFixed(decimals), decimals)}`,
        `${formatSize(at.cum.toFixed(szDecimals))} in ${at.levels} level${at.levels === 1 ? "" : "s"}`,
      ];
      const boxWidth = Math.max(...lines.map((line) => ctx.measureText(line).width)) + 14;
      const left = x + boxWidth + 8 > plot.width ? x - boxWidth - 8 : x + 8;
      ctx.fillStyle = colours.panel;
      ctx.strokeStyle = at.side === "B" ? colours.bid : colours.ask;
      ctx.beginPath();
      ctx.rect(left, plot.top + 4, boxWidth, 38);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = colours.textStrong;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      lines.forEach((line, i) => ctx.fillText(line, left + 7, plot.top + 9 + i * 15));
    }
  }
  canvas.dataset.time = String(l2.time);
  canvas.dataset.draws = String(++chartDraws);
}

/** Asks the server for spot pair names (`spotMeta`); without an answer the picker keeps the API's names. */
async function loadSpotNames() {
  try {
    const response = await fetch("info", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(pageToken === null ? {} : { authorization: `Bearer ${pageToken}` }),
      },
      body: '{"type":"spotMeta"}',
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) return;
    const names = spotNames(await response.json());
    if (names.size === 0) return;
    state.spotNames = names;
    renderCoinOptions();
    touch("ladder");
  } catch {
    // not served: the built-in names and the API's names stay
  }
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
dom.levels.replaceChildren(...LEVEL_CHOICES.map((n) => {
  const option = document.createElement("option");
  option.value = String(n);
  option.textContent = `${n} a side`;
  return option;
}));
dom.levels.value = String(state.levels);
dom.coin.addEventListener("change", () => select(dom.coin.value, state.precision));
dom.precision.addEventListener("change", () => select(state.coin, dom.precision.value));
dom.levels.addEventListener("change", () => select(state.coin, state.precision, Number(dom.levels.value)));
new ResizeObserver(() => touch("chart")).observe(/** @type {HTMLElement} */ (dom.depth.parentElement));
dom.depth.addEventListener("pointermove", (event) => {
  chartHover = event.offsetX;
  touch("chart");
});
dom.depth.addEventListener("pointerleave", () => {
  chartHover = null;
  touch("chart");
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => touch("chart"));
dom.l4Close.addEventListener("click", () => closeL4());
addEventListener("hashchange", () => {
  const params = new URLSearchParams(location.hash.slice(1));
  const coin = params.get("coin") ?? state.coin;
  const prec = params.get("prec");
  const precision = PRECISIONS.some((p) => p.key === prec) ? /** @type {string} */ (prec) : state.precision;
  const lv = Number(params.get("lv") ?? DEFAULT_LEVELS);
  const levels = LEVEL_CHOICES.includes(lv) ? lv : state.levels;
  if (coin !== state.coin || precision !== state.precision || levels !== state.levels) {
    select(coin, precision, levels);
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.selected !== null) closeL4();
});

const userPanel = createUserPanel({
  subscribe: (subscription) => feed.subscribe(subscription),
  unsubscribe: (subscription) => feed.unsubscribe(subscription),
  spotNames: () => state.spotNames,
});
feed.subscribe({ type: "allMids" });
if (state.coin !== null) {
  const initial = state.coin;
  state.coin = null;
  select(initial, state.precision);
}
feed.connect();
loadSpotNames();
pollHealth();
setInterval(pollHealth, HEALTH_MS);
setInterval(() => {
  if (state.conn === "reconnecting") touch("status");
}, 500);
