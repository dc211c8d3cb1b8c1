/**
 * An in-process simulator → books → feed loop for the per-user stream tests: each simulated block goes through
 * the node's line format and hlbook's own parsers (fills line, then its trades, then the book update), as the
 * pipeline does, and every message sent to a client is recorded.
 *
 * @module
 */
import { Books } from "../../src/book/mod.ts";
import type { BlockInput } from "../../src/book/types.ts";
import { type Client, type ClientSink, Feed, parseInfoRequest } from "../../src/feed/mod.ts";
import type { StreamLimits } from "../../src/feed/user_streams.ts";
import { TradeAssembler } from "../../src/ingest/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { parseDiffLine, parseFillLine, parseStatusLine } from "../../src/node/mod.ts";
import { blockLines, type SimBlock, type SimOptions, Simulator } from "../../src/sim/mod.ts";

/** A client sink that keeps every message, parsed. */
export class RecordingSink implements ClientSink {
  readonly texts: string[] = [];
  bufferedAmount = 0;
  send(text: string): void {
    this.texts.push(text);
  }
  close(): void {}
  /** Parsed messages of one channel. */
  // deno-lint-ignore no-explicit-any
  of(channel: string): any[] {
    return this.texts.map((t) => JSON.parse(t)).filter((m) => m.channel === channel);
  }
}

/** A feed driven by a simulator, one block at a time. */
export class SimFeed {
  readonly sim: Simulator;
  readonly books: Books;
  readonly feed: Feed;
  readonly #assembler = new TradeAssembler("by-block");
  /** Every block produced so far, with its node lines. */
  readonly blocks: { block: SimBlock; lines: ReturnType<typeof blockLines> }[] = [];

  /** `feed`: drive an existing feed (e.g. a test server's) instead of a new one. */
  constructor(options: SimOptions = {}, limits?: StreamLimits, feed?: Feed) {
    this.sim = new Simulator(options);
    this.books = Books.fromSnapshot(this.sim.snapshot());
    this.feed = feed ?? new Feed({ metrics: new Metrics(), streams: limits });
    this.feed.reset(this.books);
    this.feed.state({ phase: "ready", height: this.books.height, time: this.books.time });
  }

  /** A client with the given subscriptions (the subscribe replies are kept in its sink). */
  connect(...subscriptions: object[]): { client: Client; sink: RecordingSink } {
    const sink = new RecordingSink();
    const client = this.feed.attach(sink, { maxSubscriptions: 1000, maxBuffered: 1 << 30 });
    for (const subscription of subscriptions) {
      this.feed.handle(client, JSON.stringify({ method: "subscribe", subscription }));
    }
    return { client, sink };
  }

  /** Produces and feeds one block. */
  step(): SimBlock {
    const block = this.sim.step();
    const lines = blockLines(block);
    this.blocks.push({ block, lines });
    const fills = parseFillLine(lines.fills);
    if (!fills.ok) throw new Error(fills.error);
    this.feed.fills(fills.batch.blockNumber, fills.batch.events);
    this.feed.trades(this.#assembler.push(fills.batch).trades);
    const statuses = parseStatusLine(lines.statuses);
    const diffs = parseDiffLine(lines.diffs);
    if (!statuses.ok || !diffs.ok) throw new Error("sim line did not parse");
    const input: BlockInput = {
      height: block.height,
      time: statuses.batch.blockTime,
      statuses: statuses.batch.events,
      diffs: diffs.batch.events,
    };
    const result = this.books.applyBlock(input);
    if (!result.ok) throw new Error(result.error.message);
    this.feed.block(this.books, result.diff);
    return block;
  }

  /** An info answer, parsed (throws on an error answer). */
  // deno-lint-ignore no-explicit-any
  info(request: object): any {
    const parsed = parseInfoRequest(request, this.feed.coinCheck());
    if (!parsed.ok) throw new Error(parsed.error);
    const result = this.feed.info(parsed.request);
    if (!result.ok) throw new Error(result.error);
    return JSON.parse(result.json);
  }
}

/** The most active users of some blocks (by fills, then statuses), most active first. */
export function activeUsers(blocks: readonly SimBlock[], n: number): string[] {
  const count = new Map<string, number>();
  for (const b of blocks) {
    for (const [user] of b.fills) count.set(user, (count.get(user) ?? 0) + 10);
    for (const s of b.statuses) count.set(s.user, (count.get(s.user) ?? 0) + 1);
  }
  return [...count.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([user]) => user);
}
