/**
 * The soak's client fleet, run as its own process: N WebSocket clients of a running hlbook, each following one
 * l2Book view (and every twentieth an l4Book, rebuilt from its Snapshot and Updates), some sending bad inputs now
 * and then. Commands on stdin, one per line: `stats` prints the counters (with how many clients are settled),
 * `verify` prints one JSON line `{"type":"report",…}` with a digest of every client's latest l2Book levels and
 * rebuilt L4 book; `exit` closes everything.
 *
 * A client's books belong to its current connection: on a close they are dropped (the last l2Book is kept only
 * for the diagnosis of a wrong book), and a client is *settled* only once its current connection is open and has
 * brought an l2Book (and, for an l4Book client, a Snapshot). A client whose re-subscribe was never answered is
 * then reported as not settled instead of being compared with what its dead connection last carried. Events of
 * a socket that is no longer the client's current one are ignored.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Books, type L4Order, type NodeOrder, type SnapshotFile } from "../../src/book/mod.ts";
import { l4SnapshotMessage } from "../../src/feed/messages.ts";
import { badInputs, Rng } from "../reliability/_fuzz.ts";

/** The l2Book views the clients spread over. */
export const VIEWS: readonly Record<string, number | null>[] = [
  {},
  { nSigFigs: 5 },
  { nSigFigs: 3 },
  { nSigFigs: 5, mantissa: 2 },
  { nLevels: 50 },
];

/** SHA-256 hex of a string. */
export async function digest(text: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The canonical text of an L4 book side pair (the server's own serialisation, time and height zeroed). */
export function l4Canonical(coin: string, levels: readonly [readonly L4Order[], readonly L4Order[]]): string {
  return l4SnapshotMessage(coin, 0, 0, levels);
}

/** The canonical text of l2 levels. */
export function l2Canonical(levels: unknown): string {
  return JSON.stringify(levels);
}

function toSnapshotFile(coin: string, height: number, levels: [L4Order[], L4Order[]]): SnapshotFile {
  const side = (orders: L4Order[]) =>
    orders.map(({ user, ...order }) =>
      [user, { ...order, children: [], origSz: order.sz } as NodeOrder] as const
    );
  return [height, [[coin, [side(levels[0]), side(levels[1])]]]];
}

/** The fleet's counters. */
export interface Stats {
  connected: number;
  reconnects: number;
  messages: number;
  errorsAnswered: number;
  badSent: number;
  l4Snapshots: number;
  l4Broken: number;
  closes: Record<string, number>;
  /** WebSocket error events by message. */
  errors: Record<string, number>;
}

/** Counters at zero. */
export function newStats(): Stats {
  return {
    connected: 0,
    reconnects: 0,
    messages: 0,
    errorsAnswered: 0,
    badSent: 0,
    l4Snapshots: 0,
    l4Broken: 0,
    closes: {},
    errors: {},
  };
}

/** One client of the fleet: reconnects 200–700 ms after a close and subscribes again. */
export class SoakClient {
  socket: WebSocket | null = null;
  /** No more reconnects (the fleet exits, or a test is done). */
  stopped = false;
  /** The latest l2Book message, unparsed (parsing each would cost the fleet more than the server). */
  l2: string | null = null;
  /** For a wrong book's diagnosis: l2Book messages on the current connection, and the one before the last. */
  l2Count = 0;
  previousL2: string | null = null;
  /** The last l2Book of the connection before the current one (diagnosis only, never verified). */
  lastOfPrevious: string | null = null;
  /** Subscription acknowledgements and error replies received on the current connection. */
  acks = 0;
  errorReplies = 0;
  /** When the current connection opened (ms since the epoch), 0 while none is open. */
  openedAt = 0;
  connections = 0;
  mirror: Books | null = null;
  open = false;
  constructor(
    readonly id: number,
    readonly url: string,
    readonly coin: string,
    readonly view: Record<string, number | null>,
    readonly l4: boolean,
    readonly stats: Stats,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.onopen = () => {
        if (this.socket !== socket) return;
        this.open = true;
        this.openedAt = Date.now();
        this.connections++;
        this.l2Count = 0;
        this.acks = 0;
        this.errorReplies = 0;
        this.stats.connected++;
        socket.send(
          JSON.stringify({
            method: "subscribe",
            subscription: { type: "l2Book", coin: this.coin, ...this.view },
          }),
        );
        if (this.l4) {
          socket.send(
            JSON.stringify({ method: "subscribe", subscription: { type: "l4Book", coin: this.coin } }),
          );
        }
        resolve();
      };
      socket.onmessage = (event) => {
        if (this.socket === socket) this.#message(String(event.data));
      };
      socket.onclose = (event) => {
        resolve();
        if (this.socket !== socket) return;
        if (this.open) this.stats.connected--;
        this.open = false;
        this.openedAt = 0;
        const key = `${event.code} ${event.reason}`.trim().slice(0, 60);
        this.stats.closes[key] = (this.stats.closes[key] ?? 0) + 1;
        // What the dead connection carried is no book of the next one.
        if (this.l2 !== null) this.lastOfPrevious = this.l2;
        this.l2 = null;
        this.previousL2 = null;
        this.l2Count = 0;
        this.mirror = null;
        if (!stopping && !this.stopped) {
          this.stats.reconnects++;
          setTimeout(() => this.connect(), 200 + Math.random() * 500);
        }
      };
      socket.onerror = (event) => {
        const key = String((event as ErrorEvent).message ?? "error").slice(0, 80);
        this.stats.errors[key] = (this.stats.errors[key] ?? 0) + 1;
      };
    });
  }

  #message(text: string): void {
    this.stats.messages++;
    // Cheap routing on the prefix: most messages are l2Book.
    if (text.startsWith('{"channel":"l2Book"')) {
      this.previousL2 = this.l2;
      this.l2 = text;
      this.l2Count++;
      return;
    }
    if (text.startsWith('{"channel":"l4Book"')) {
      const data = JSON.parse(text).data;
      if (data.Snapshot) {
        this.stats.l4Snapshots++;
        const s = data.Snapshot;
        this.mirror = Books.fromSnapshot(toSnapshotFile(s.coin, s.height, s.levels));
        return;
      }
      const u = data.Updates;
      const mirror = this.mirror;
      if (!mirror || u.height <= mirror.height) return;
      for (let h = mirror.height + 1; h < u.height; h++) {
        mirror.applyBlock({ height: h, time: u.time, statuses: [], diffs: [] });
      }
      const result = mirror.applyBlock({
        height: u.height,
        time: u.time,
        statuses: u.order_statuses,
        diffs: u.book_diffs,
      });
      if (!result.ok) {
        this.stats.l4Broken++;
        this.mirror = null; // wait for the next Snapshot
      }
      return;
    }
    if (text.startsWith('{"channel":"subscriptionResponse"')) {
      this.acks++;
      return;
    }
    if (text.startsWith('{"channel":"error"')) {
      this.errorReplies++;
      this.stats.errorsAnswered++;
    }
  }

  /** Its current connection is open and brought its books: what it holds can be compared with the truth. */
  get settled(): boolean {
    return this.open && this.l2 !== null && (!this.l4 || this.mirror !== null);
  }

  /** Closes the connection for good. */
  stop(): void {
    this.stopped = true;
    this.socket?.close();
  }

  send(text: string): boolean {
    if (!this.open || !this.socket) return false;
    this.socket.send(text);
    return true;
  }
}

let stopping = false;
/** One client in this many also rebuilds an l4Book. */
const L4_EVERY = 20;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      clients: { type: "string", default: "1000" },
      coins: { type: "string" },
      seed: { type: "string", default: "1" },
      "bad-every": { type: "string", default: "5" },
    },
  });
  const url = values.url ?? "";
  const coins = (values.coins ?? "").split(",");
  const n = Number(values.clients);
  const rng = new Rng(Number(values.seed));
  const stats = newStats();
  const clients: SoakClient[] = [];
  for (let i = 0; i < n; i++) {
    clients.push(
      new SoakClient(
        i,
        url,
        coins[i % coins.length],
        VIEWS[Math.floor(i / coins.length) % VIEWS.length],
        i % L4_EVERY === 0,
        stats,
      ),
    );
  }
  for (let i = 0; i < n; i += 50) await Promise.all(clients.slice(i, i + 50).map((c) => c.connect()));
  const out = (value: unknown) =>
    Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(value) + "\n"));
  out({ type: "ready", connected: stats.connected });

  // Every few seconds a few clients send something bad; each must be answered with an error.
  const bad = setInterval(() => {
    for (const input of badInputs(rng, coins, 40).slice(-20)) {
      const client = clients[rng.int(clients.length)];
      if (client.send(input)) stats.badSent++;
    }
  }, Number(values["bad-every"]) * 1000);

  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buffer = "";
  for await (const chunk of lines) {
    buffer += chunk;
    let index;
    while ((index = buffer.indexOf("\n")) >= 0) {
      const command = buffer.slice(0, index).trim();
      buffer = buffer.slice(index + 1);
      if (command === "stats") {
        out({ type: "stats", ...stats, settled: clients.filter((c) => c.settled).length });
      }
      if (command === "verify") {
        const reports = [];
        for (const c of clients) {
          reports.push({
            id: c.id,
            coin: c.coin,
            view: c.view,
            open: c.open,
            settled: c.settled,
            openForMs: c.openedAt === 0 ? null : Date.now() - c.openedAt,
            acks: c.acks,
            errorReplies: c.errorReplies,
            lastOfPrevious: c.lastOfPrevious,
            l2: c.l2 === null ? null : await digest(l2Canonical(JSON.parse(c.l2).data.levels)),
            l2Time: c.l2 === null ? null : JSON.parse(c.l2).data.time,
            l2Text: c.l2,
            previousL2: c.previousL2,
            l2Count: c.l2Count,
            connections: c.connections,
            l4: c.l4 ? (c.mirror ? await digest(l4Canonical(c.coin, c.mirror.l4(c.coin))) : null) : undefined,
            l4Height: c.mirror?.height ?? null,
          });
        }
        out({ type: "report", stats, clients: reports });
      }
      if (command === "exit") {
        stopping = true;
        clearInterval(bad);
        for (const c of clients) c.socket?.close();
        Deno.exit(0);
      }
    }
  }
}
