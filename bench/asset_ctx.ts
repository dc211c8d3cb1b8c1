/**
 * Section 6: asset contexts. What a `metaAndAssetCtxs`-style build of every market's context costs on the event
 * loop (mid, impact prices from the book, 24 h figures): from scratch (after a reset), after one mainnet-like
 * block (only the coins it touched are rebuilt), and repeated with nothing changed. Client libraries ask for it
 * at start-up and the nomeida SDK every 60 s per client.
 *
 * @module
 */
import { Books } from "../src/book/mod.ts";
import { Feed } from "../src/feed/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { Simulator, toBlockInput } from "../src/sim/mod.ts";
import { emit, fmt, median } from "./_common.ts";

const COINS = 230; // about mainnet's perps
const SECTION = "6 asset ctxs";

const sim = new Simulator({ coins: COINS, seed: 6, load: 1 });
for (let i = 0; i < 30; i++) sim.step();
const books = Books.fromSnapshot(sim.snapshot());
const feed = new Feed({ metrics: new Metrics() });
feed.reset(books);
feed.state({ phase: "ready", height: books.height, time: books.time });
const coins = sim.coins();

function buildAll(): number {
  const start = performance.now();
  let size = 0;
  for (const coin of coins) size += feed.assetCtx(coin).length;
  if (size === 0) throw new Error("no contexts");
  return performance.now() - start;
}

const cold: number[] = [];
const afterBlock: number[] = [];
const warm: number[] = [];
let touched = 0;
for (let round = 0; round < 30; round++) {
  feed.reset(books); // forgets every built context
  cold.push(buildAll());
  const block = sim.step();
  const applied = books.applyBlock(toBlockInput(block));
  if (!applied.ok) throw new Error(`block ${block.height} did not apply: ${applied.error.kind}`);
  feed.block(books, applied.diff);
  touched += applied.diff.coins.size;
  afterBlock.push(buildAll());
  warm.push(buildAll());
}

const c = median(cold);
const b = median(afterBlock);
const w = median(warm);
emit([
  {
    section: SECTION,
    figure: `every market's context from scratch (${COINS} coins, load 1)`,
    target: "—",
    measured: `${fmt(c, 2)} ms`,
    pass: null,
    value: c,
  },
  {
    section: SECTION,
    figure: `after one block (${fmt(touched / cold.length, 0)} coins touched on average)`,
    target: "—",
    measured: `${fmt(b, 2)} ms`,
    pass: null,
    value: b,
  },
  {
    section: SECTION,
    figure: "again, nothing changed",
    target: "—",
    measured: `${fmt(w, 3)} ms`,
    pass: null,
    value: w,
  },
], { cold: c, afterBlock: b, warm: w, coins: COINS });
