/**
 * The client libraries people use, unmodified, against the real `main.ts` over the simulated node: ccxt (pro),
 * the `hyperliquid` SDK (nomeida) and `@nktkas/hyperliquid`, each pointed at hlbook with only its URL settings
 * (the lines of docs/clients.md). What they return must equal the simulator's own book and trades at the
 * block their message names.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import ccxt from "ccxt";
import { BASE_URLS, Hyperliquid, WSS_URLS } from "hyperliquid";
import { HttpTransport, InfoClient, SubscriptionClient, WebSocketTransport } from "@nktkas/hyperliquid";
import type { Level } from "../../src/book/types.ts";
import { Hlbook } from "../_support/hlbook.ts";
import { startRecordedNode } from "../_support/sim_truth.ts";
import { waitFor } from "../_support/wait.ts";

type Side = [number, number][];

/** ccxt's `Bids`/`Asks` (Array subclasses) as plain `[price, amount]` arrays. */
function plain(book: { bids: unknown; asks: unknown }): [Side, Side] {
  // Array.from, not .map: map on an Array subclass builds the subclass again.
  const side = (levels: unknown) => Array.from(levels as number[][], (l) => [l[0], l[1]] as [number, number]);
  return [side(book.bids), side(book.asks)];
}

/** Truth levels as the nomeida SDK gives them: numbers for px and sz. */
function numbers(levels: Level[][]): { px: number; sz: number; n: number }[][] {
  return levels.map((side) => side.map((l) => ({ px: Number(l.px), sz: Number(l.sz), n: l.n })));
}

/** Truth levels as ccxt gives them: `[price, amount]` numbers. */
function numeric(levels: Level[][]): [Side, Side] {
  return [
    levels[0].map((l) => [Number(l.px), Number(l.sz)]),
    levels[1].map((l) => [Number(l.px), Number(l.sz)]),
  ];
}

/** Runs `step` until it has returned true `count` times, bounded. */
async function repeat(what: string, count: number, timeoutMs: number, step: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  let done = 0;
  while (done < count) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what} (${done}/${count})`);
    if (await step()) done++;
  }
}

/** hlbook's count of answered metaAndAssetCtxs / spotMetaAndAssetCtxs requests. */
async function ctxAnswers(http: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  return Number(/^hlbook_info_asset_ctxs_total (\d+)$/m.exec(text)?.[1] ?? 0);
}

Deno.test({
  name:
    "ccxt, the hyperliquid SDK and @nktkas/hyperliquid work unmodified against hlbook over the simulated node",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "hlbook-clients-" });
    const { node, truth } = await startRecordedNode(join(dir, "data"), { seed: 21 });
    let hlbook: Hlbook | null = null;
    try {
      hlbook = await Hlbook.start({
        dataDir: join(dir, "data"),
        infoUrl: node.infoUrl ?? "",
        snapshotPath: join(dir, "snapshot.json"),
        stallTimeout: 5,
      });
      const server = hlbook;
      await waitFor("hlbook's book live", async () => (await server.health()).ready, 30_000);
      const http = hlbook.base;
      const ws = hlbook.wsUrl;
      const perps = node.sim.specs.filter((s) => !s.spot).map((s) => s.name);

      await t.step("ccxt (pro): markets, books, trades and tickers", async (t) => {
        // docs/clients.md, ccxt: the three URLs, and the proxy agent Node.js needs for ws:// (harmless here).
        const exchange = new ccxt.pro.hyperliquid();
        exchange.urls.api.public = http;
        exchange.urls.api.private = http;
        exchange.urls.api.ws.public = ws;
        try {
          await exchange.loadHttpProxyAgent();
          await t.step("loadMarkets lists every simulated perp and both spot pairs", async () => {
            const markets = await exchange.loadMarkets();
            for (const coin of perps) {
              const market = markets[`${coin}/USDC:USDC`];
              assert.ok(market, `${coin} perp`);
              assert.equal(market.info.name, coin);
              assert.equal(market.swap, true);
            }
            assert.equal(markets["PURR/USDC"]?.id, "PURR/USDC");
            assert.equal(markets["HYPE/USDC"]?.id, "@107");
            assert.equal(markets["HYPE/USDC"]?.spot, true);
            assert.equal(
              markets["BTC/USDC:USDC"]?.precision.amount,
              0.00001,
              "szDecimals from the node's meta",
            );
          });

          await t.step(
            "fetchStatus, fetchTickers and fetchCurrencies parse what hlbook and the node answer",
            async () => {
              assert.equal((await exchange.fetchStatus()).status, "ok", "exchangeStatus, forwarded");
              const tickers = await exchange.fetchTickers(["BTC/USDC:USDC", "HYPE/USDC"]);
              assert.ok((tickers["BTC/USDC:USDC"]?.close ?? 0) > 0 && (tickers["HYPE/USDC"]?.close ?? 0) > 0);
              const currencies = await exchange.fetchCurrencies();
              assert.ok(currencies.USDC && currencies.PURR && currencies.HYPE, "spotMeta's tokens");
            },
          );

          await t.step("fetchOrderBook equals the simulator's book at the block it names", async () => {
            await repeat("fetchOrderBook matches", 4, 20_000, async () => {
              for (
                const [symbol, coin] of [["BTC/USDC:USDC", "BTC"], ["PURR/USDC", "PURR/USDC"], [
                  "HYPE/USDC",
                  "@107",
                ]]
              ) {
                const book = await exchange.fetchOrderBook(symbol);
                const expected = truth.bookAt(coin, book.timestamp ?? -1);
                if (expected === undefined) return false;
                assert.deepEqual(plain(book), numeric(expected), `${symbol} at ${book.timestamp}`);
              }
              return true;
            });
          });

          await t.step(
            "watchOrderBook (perp and spot) equals the simulator's book at each block",
            async () => {
              for (const [symbol, coin] of [["ETH/USDC:USDC", "ETH"], ["HYPE/USDC", "@107"]]) {
                await repeat(`${symbol} books`, 15, 20_000, async () => {
                  const book = await exchange.watchOrderBook(symbol);
                  const expected = truth.bookAt(coin, book.timestamp ?? -1);
                  if (expected === undefined) return false;
                  assert.deepEqual(plain(book), numeric(expected), `${symbol} at ${book.timestamp}`);
                  return true;
                });
              }
            },
          );

          await t.step("watchTrades equals the simulator's fills, none missing", async () => {
            const byTid = truth.tradeByTid();
            const seen = new Map<string, number>();
            await repeat("BTC trades", 3, 30_000, async () => {
              const trades = await exchange.watchTrades("BTC/USDC:USDC");
              for (const trade of trades) {
                const expected = truth.tradeByTid().get(Number(trade.id)) ?? byTid.get(Number(trade.id));
                assert.ok(expected, `trade ${trade.id} is a simulated fill`);
                assert.deepEqual(
                  [trade.price, trade.amount, trade.timestamp, trade.side],
                  [
                    Number(expected.px),
                    Number(expected.sz),
                    expected.time,
                    expected.side === "B" ? "buy" : "sell",
                  ],
                );
                seen.set(trade.id ?? "", expected.time);
              }
              return trades.length > 0;
            });
            // Every simulated BTC trade between the first and the last one received was received.
            const times = [...seen.values()];
            const [first, last] = [Math.min(...times), Math.max(...times)];
            const all = [...truth.tradeByTid().values()].filter((x) =>
              x.coin === "BTC" && x.time >= first && x.time <= last
            );
            assert.deepEqual(all.map((x) => String(x.tid)).sort(), [...seen.keys()].sort());
          });

          await t.step("watchTicker runs beside a watchOrderBook loop without breaking it", async () => {
            let books = 0;
            let failure: unknown = null;
            let stop = false;
            const loop = (async () => {
              while (!stop) {
                const book = await exchange.watchOrderBook("BTC/USDC:USDC");
                const expected = truth.bookAt("BTC", book.timestamp ?? -1);
                if (expected !== undefined) {
                  assert.deepEqual(plain(book), numeric(expected));
                  books++;
                }
              }
            })().catch((error) => (failure = error));
            await waitFor("the book loop running", () => books >= 3, 10_000);
            const perp = await exchange.watchTicker("BTC/USDC:USDC");
            assert.equal(perp.symbol, "BTC/USDC:USDC");
            assert.ok(typeof perp.close === "number" && perp.close > 0, "close is the mid");
            assert.equal(perp.info.markPx, null, "markPx: not known to hlbook");
            const spot = await exchange.watchTicker("HYPE/USDC");
            assert.equal(spot.symbol, "HYPE/USDC");
            const before = books;
            await waitFor("the book loop still running after the tickers", () => books >= before + 5, 10_000);
            stop = true;
            await loop; // ends at its next book
            assert.equal(failure, null);
          });
        } finally {
          await exchange.close();
        }
      });

      await t.step("the hyperliquid SDK (nomeida): symbols, l2 book, l2Book and trades streams", async () => {
        // docs/clients.md, nomeida: override the URL constants before constructing the client.
        BASE_URLS.PRODUCTION = http;
        WSS_URLS.PRODUCTION = ws;
        // The asset map (metaAndAssetCtxs + spotMetaAndAssetCtxs) refreshes every 60 s by default; 200 ms here
        // so the repeated requests run all along the streams below.
        const sdk = new Hyperliquid({
          enableWs: true,
          maxReconnectAttempts: 0,
          assetMapRefreshIntervalMs: 200,
        });
        try {
          await sdk.connect();
          const assets = await sdk.info.getAllAssets();
          for (const coin of perps) assert.ok(assets.perp.includes(`${coin}-PERP`), `${coin}-PERP`);
          assert.ok(assets.spot.includes("HYPE-SPOT") && assets.spot.includes("PURR-SPOT"), "spot names");

          const rest = await sdk.info.getL2Book("BTC-PERP", true, null as unknown as number) as unknown as {
            time: number;
            levels: Level[][];
          };
          const expectedRest = truth.bookAt("BTC", rest.time);
          // rawResponse = true: the node's strings, unconverted.
          assert.ok(rest.levels[0].length > 0 && rest.levels[1].length > 0, "a BTC book over HTTP");
          if (expectedRest !== undefined) assert.deepEqual(rest.levels, expectedRest);

          const books: { coin: string; time: number; levels: Level[][] }[] = [];
          const trades: { coin: string; tid: number; px: string; sz: string }[][] = [];
          await sdk.subscriptions.subscribeToL2Book("HYPE-SPOT", (data) => books.push(data as never));
          await sdk.subscriptions.subscribeToTrades("BTC-PERP", (data) => trades.push(data));
          const refreshed = await ctxAnswers(http);
          await waitFor(
            "20 HYPE-SPOT books and some BTC trades",
            () => books.length >= 20 && trades.length >= 2,
            30_000,
          );
          // The streams keep matching while the SDK re-asks metaAndAssetCtxs + spotMetaAndAssetCtxs (3 rounds).
          await waitFor(
            "three asset-map refreshes",
            async () => (await ctxAnswers(http)) >= refreshed + 6,
            30_000,
          );
          let compared = 0;
          for (const book of books) {
            assert.equal(book.coin, "HYPE-SPOT", "the SDK's own name for @107");
            const expected = truth.bookAt("@107", book.time);
            if (expected === undefined) continue;
            assert.deepEqual(book.levels, numbers(expected), `@107 at ${book.time}`);
            compared++;
          }
          assert.ok(compared >= 15, `compared ${compared} books`);
          const byTid = truth.tradeByTid();
          for (const list of trades) {
            for (const trade of list) {
              assert.equal(trade.coin, "BTC-PERP");
              const expected = byTid.get(trade.tid);
              assert.ok(expected, `trade ${trade.tid}`);
              assert.deepEqual([Number(trade.px), Number(trade.sz)], [
                Number(expected.px),
                Number(expected.sz),
              ]);
            }
          }
        } finally {
          sdk.disconnect();
        }
      });

      await t.step(
        "@nktkas/hyperliquid: InfoClient over HTTP and WebSocket, SubscriptionClient",
        async () => {
          // docs/clients.md, @nktkas: `apiUrl` for HTTP, `url` for the WebSocket.
          const info = new InfoClient({ transport: new HttpTransport({ apiUrl: http }) });
          const [meta, ctxs] = await info.metaAndAssetCtxs();
          assert.deepEqual(meta.universe.map((u) => u.name), perps);
          assert.equal(ctxs.length, perps.length);
          for (const ctx of ctxs) assert.ok(ctx.midPx === null || Number(ctx.midPx) > 0);
          const [spotMeta, spotCtxs] = await info.spotMetaAndAssetCtxs();
          assert.equal(spotMeta.universe[107].name, "@107");
          assert.equal(spotCtxs[107].coin, "@107");
          assert.deepEqual(await info.perpDexs(), [null]);
          const book = await info.l2Book({ coin: "SOL" });
          const expected = book === null ? undefined : truth.bookAt("SOL", book.time);
          if (book !== null && expected !== undefined) assert.deepEqual(book.levels, expected);

          const transport = new WebSocketTransport({ url: ws, reconnect: { maxRetries: 0 } });
          try {
            await transport.ready();
            const overSocket = new InfoClient({ transport });
            assert.deepEqual(
              (await overSocket.spotMeta()).universe[0].name,
              "PURR/USDC",
              "forwarded over post",
            );
            const subs = new SubscriptionClient({ transport });
            const books: { coin: string; time: number; levels: Level[][] }[] = [];
            const ctxEvents: { coin: string; ctx: { midPx: string | null } }[] = [];
            await subs.l2Book({ coin: "PURR/USDC" }, (data) => books.push(data as never));
            await subs.activeAssetCtx({ coin: "SOL" }, (data) => ctxEvents.push(data as never));
            await waitFor(
              "15 PURR/USDC books and an SOL context",
              () => books.length >= 15 && ctxEvents.length >= 1,
              30_000,
            );
            let compared = 0;
            for (const b of books) {
              const want = truth.bookAt("PURR/USDC", b.time);
              if (want === undefined) {
                continue;
              }
              assert.deepEqual(b.levels, want, `PURR/USDC at ${b.time}`);
              compared++;
            }
            assert.ok(compared >= 10, `compared ${compared} books`);
            assert.equal(ctxEvents[0].coin, "SOL");
          } finally {
            await transport.close();
          }
        },
      );
    } finally {
      await hlbook?.close();
      await node.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
