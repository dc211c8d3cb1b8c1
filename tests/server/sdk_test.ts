import { assert, assertEquals } from "../_support/assert.ts";
import { InfoClient, SubscriptionClient, WebSocketTransport } from "@nktkas/hyperliquid";
import { sampleBooks, trade, withServer } from "../feed/_helpers.ts";
import { waitFor, withTimeout } from "../_support/wait.ts";

Deno.test("the @nktkas/hyperliquid SDK subscribes to l2Book and trades and parses what it gets", async (t) => {
  await withServer(async ({ feed, url }) => {
    const { books, maker } = sampleBooks();
    feed.reset(books);
    feed.state({ phase: "ready", height: books.height, time: books.time });
    const transport = new WebSocketTransport({ url, timeout: 5000, reconnect: { maxRetries: 0 } });
    try {
      await withTimeout(transport.ready(), 5000, "SDK connection");
      const client = new SubscriptionClient({ transport });

      await t.step(
        "l2Book: the subscribe resolves and the listener gets the snapshot and each change",
        async () => {
          // deno-lint-ignore no-explicit-any
          const received: any[] = [];
          const sub = await withTimeout(
            client.l2Book({ coin: "BTC" }, (data) => received.push(data)),
            5000,
            "l2Book subscribe",
          );
          maker.place("BTC", "B", "100.0", "2.0");
          feed.block(books, maker.apply());
          await waitFor("two l2Book messages", () => received.length >= 2, 5000);
          assertEquals(received[0].coin, "BTC");
          assertEquals(received[1].levels[0][0], { px: "100.0", sz: "3.0", n: 2 });
          await withTimeout(sub.unsubscribe(), 5000, "l2Book unsubscribe");
        },
      );

      await t.step("l2Book with nSigFigs and mantissa resolves against the echo", async () => {
        const sub = await withTimeout(
          client.l2Book({ coin: "BTC", nSigFigs: 5, mantissa: 5 }, () => {}),
          5000,
          "l2Book nSigFigs subscribe",
        );
        await withTimeout(sub.unsubscribe(), 5000, "unsubscribe");
      });

      await t.step("the hlbookStatus extension channel is ignored by the SDK", async () => {
        feed.state({ phase: "stale", height: books.height, time: books.time });
        feed.state({ phase: "ready", height: books.height, time: books.time });
        const sub = await withTimeout(
          client.bbo({ coin: "ETH" }, () => {}),
          5000,
          "bbo after status messages",
        );
        await withTimeout(sub.unsubscribe(), 5000, "bbo unsubscribe");
      });

      await t.step("trades: the listener gets the block's trades for its coin", async () => {
        // deno-lint-ignore no-explicit-any
        const received: any[] = [];
        const sub = await withTimeout(
          client.trades({ coin: "BTC" }, (data) => received.push(data)),
          5000,
          "trades",
        );
        feed.trades([trade("BTC", 11), trade("BTC", 12)]);
        await waitFor("a trades message", () => received.length >= 1, 5000);
        assertEquals(received[0].map((x: { tid: number }) => x.tid), [11, 12]);
        assertEquals(received[0][0].users.length, 2);
        await withTimeout(sub.unsubscribe(), 5000, "trades unsubscribe");
      });

      await t.step("a subscription to an unknown coin is rejected with the server's text", async () => {
        let error: unknown = null;
        try {
          await withTimeout(client.trades({ coin: "NOPE" }, () => {}), 5000, "rejection");
        } catch (e) {
          error = e;
        }
        assert(error instanceof Error);
        assertEquals((error as Error).message, 'Invalid subscription {"type":"trades","coin":"NOPE"}');
      });

      await t.step("info requests over the socket (post) return l2Book and allMids", async () => {
        const info = new InfoClient({ transport });
        const l2 = await withTimeout(info.l2Book({ coin: "ETH" }), 5000, "post l2Book");
        assertEquals(l2?.levels[0][0], { px: "10.0", sz: "1.0", n: 1 });
        const mids = await withTimeout(info.allMids(), 5000, "post allMids");
        assertEquals(mids, { BTC: "100.5", ETH: "10.5" });
      });
    } finally {
      transport.close();
    }
  });
});
