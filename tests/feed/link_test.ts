import assert from "node:assert/strict";
import { Books, type Coin, type L2Params } from "../../src/book/mod.ts";
import { type Client, type ClientSink, Core, Edge } from "../../src/feed/mod.ts";
import type { CoreToEdge, EdgeToCore } from "../../src/link/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { referenceLevelsJson } from "../_support/l2_reference.ts";
import { rng } from "../_support/rng.ts";
import { applyL4Updates, BlockMaker, booksOfL4Snapshot } from "./_helpers.ts";

/**
 * A core and an edge joined the way threads or machines join them: every message is a structured-clone copy
 * (plain data only) delivered later, in order, so the edge sees outputs that were in flight while it asked for
 * snapshots. Subscribers that join mid-stream must still end equal to the book: every l2Book view to the
 * reference, every l4Book mirror (its snapshot plus its Updates) to the book itself.
 */
class Channel<T> {
  readonly #queue: T[] = [];
  constructor(readonly deliver: (message: T) => void) {}
  send(message: T): void {
    this.#queue.push(structuredClone(message));
  }
  /** Delivers up to `n` queued messages (all when omitted). */
  pump(n = Infinity): number {
    let done = 0;
    while (done < n && this.#queue.length > 0) {
      this.deliver(this.#queue.shift() as T);
      done++;
    }
    return done;
  }
}

class Sink implements ClientSink {
  readonly sent: string[] = [];
  bufferedAmount = 0;
  send(text: string): void {
    this.sent.push(text);
  }
  close(): void {}
}

interface Subscriber {
  readonly client: Client;
  readonly sink: Sink;
  readonly coin: Coin;
  readonly kind: "l2Book" | "l4Book";
  readonly params: L2Params;
}

const PARAMS: L2Params[] = [
  { nSigFigs: null, mantissa: null, nLevels: 20 },
  { nSigFigs: 3, mantissa: null, nLevels: 5 },
  { nSigFigs: 5, mantissa: 2, nLevels: 20 },
];

function latest(sink: Sink, channel: string): unknown {
  for (let i = sink.sent.length - 1; i >= 0; i--) {
    if (sink.sent[i].startsWith(`{"channel":"${channel}"`)) return JSON.parse(sink.sent[i]).data;
  }
  return null;
}

async function run(seed: number, blocks: number): Promise<void> {
  const random = rng(seed);
  const metrics = new Metrics();
  const toEdge = new Channel<CoreToEdge>((m) => edge.receive(m));
  const toCore = new Channel<EdgeToCore>((m) => core.receive(m));
  const core = new Core({ metrics, emit: (m) => toEdge.send(m), l4Chunk: 3 });
  const edge = new Edge({ metrics, send: (m) => toCore.send(m) });
  const books = new Books();
  const maker = new BlockMaker(books);
  const coins = ["HYPE", "SOL"];
  const pxOf = (side: "B" | "A") => ((side === "B" ? 3000 : 3060) + Math.floor(random() * 40)).toFixed(1);
  for (const coin of coins) {
    for (let i = 0; i < 12; i++) maker.place(coin, i % 2 ? "B" : "A", pxOf(i % 2 ? "B" : "A"), "1.0");
  }
  maker.apply();
  core.reset(books);
  core.state({ phase: "ready", height: books.height, time: books.time });
  const subscribers: Subscriber[] = [];
  const join = () => {
    const sink = new Sink();
    const client = edge.attach(sink, { maxSubscriptions: 10, maxBuffered: 1 << 30 });
    const coin = coins[Math.floor(random() * coins.length)];
    const kind = random() < 0.3 ? "l4Book" : "l2Book";
    const params = PARAMS[Math.floor(random() * PARAMS.length)];
    const subscription = kind === "l4Book" ? { type: kind, coin } : {
      type: kind,
      coin,
      ...(params.nSigFigs === null ? {} : { nSigFigs: params.nSigFigs }),
      ...(params.mantissa === null ? {} : { mantissa: params.mantissa }),
      nLevels: params.nLevels,
    };
    edge.handle(client, JSON.stringify({ method: "subscribe", subscription }));
    subscribers.push({ client, sink, coin, kind, params });
  };
  for (let b = 0; b < blocks; b++) {
    if (random() < 0.4) join();
    for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
      const coin = coins[Math.floor(random() * coins.length)];
      const mine = [...maker.resting].filter(([, o]) => o.coin === coin);
      if (random() < 0.5 || mine.length < 4) {
        const side = random() < 0.5 ? "B" : "A";
        maker.place(coin, side, pxOf(side), `${1 + Math.floor(random() * 5)}.0`);
      } else maker.cancel(mine[Math.floor(random() * mine.length)][0]);
    }
    core.block(books, maker.apply());
    // Some of what is in flight arrives before the next block, some after.
    toCore.pump(Math.floor(random() * 3));
    toEdge.pump(Math.floor(random() * 4));
    // The chunked l4Book builds move on between blocks.
    if (random() < 0.5) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  // Everything arrives (the chunked builds finish).
  for (let quiet = 0; quiet < 50;) {
    const moved = toCore.pump() + toEdge.pump();
    await new Promise((resolve) => setTimeout(resolve, 0));
    quiet = moved === 0 ? quiet + 1 : 0;
  }
  assert.ok(subscribers.length > 0);
  for (const [i, s] of subscribers.entries()) {
    const where = `seed ${seed} subscriber ${i} ${s.kind} ${s.coin}`;
    if (s.kind === "l2Book") {
      const data = latest(s.sink, "l2Book") as { levels: unknown } | null;
      assert.equal(JSON.stringify(data?.levels ?? null), referenceLevelsJson(books, s.coin, s.params), where);
      continue;
    }
    const texts = s.sink.sent.filter((t) => t.startsWith('{"channel":"l4Book"'));
    assert.ok(
      texts.length > 0 && JSON.parse(texts[0]).data.Snapshot !== undefined,
      `${where}: snapshot first`,
    );
    const mirror = booksOfL4Snapshot(JSON.parse(texts[0]).data.Snapshot);
    applyL4Updates(mirror, texts.slice(1));
    const got = mirror.l4(s.coin).map((side) => side.map((o) => [o.oid, o.limitPx, o.sz]));
    const want = books.l4(s.coin).map((side) => side.map((o) => [o.oid, o.limitPx, o.sz]));
    assert.deepEqual(got, want, `${where}: snapshot + Updates = the book`);
  }
}

Deno.test(
  "over a link that copies and delays every message, subscribers joining mid-stream end equal to the book (l2Book to the reference, l4Book snapshot + Updates to the book)",
  async () => {
    for (let seed = 1; seed <= 8; seed++) await run(seed, 60);
  },
);
