import { assert, assertEquals } from "../_support/assert.ts";
import { Books, compareBooks } from "../../src/book/mod.ts";
import type { NodeOrder } from "../../src/book/mod.ts";
import { applyL4Updates, booksOfL4Snapshot, sampleBooks, withServer } from "../feed/_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";

async function subscribed(url: string, subscription: Record<string, unknown>): Promise<WsClient> {
  const c = await WsClient.open(url);
  c.send({ method: "subscribe", subscription });
  await c.nextOn("subscriptionResponse");
  return c;
}

Deno.test("per-block fan-out sends each view once per change, identically to every subscriber", async (t) => {
  await withServer(async ({ feed, url, metrics }) => {
    const { books, maker } = sampleBooks();
    let blocks = 0;
    const block = () => {
      feed.block(books, maker.apply());
      blocks++;
    };
    feed.reset(books);
    feed.state({ phase: "ready", height: books.height, time: books.time });
    const clients: WsClient[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        clients.push(await subscribed(url, { type: "l2Book", coin: "BTC", nLevels: 2 }));
      }
      for (const c of clients) await c.nextOn("l2Book");
      const other = await subscribed(url, { type: "l2Book", coin: "ETH" });
      await other.nextOn("l2Book");
      clients.push(other);

      await t.step("many clients on one view get byte-identical payloads", async () => {
        maker.place("BTC", "B", "100.0", "0.5");
        block();
        const texts = await Promise.all(clients.slice(0, 5).map((c) => c.nextText()));
        for (const text of texts) assertEquals(text, texts[0]);
        const msg = JSON.parse(texts[0]);
        assertEquals(msg.data.time, maker.time);
        assertEquals(msg.data.levels[0], [{ px: "100.0", sz: "1.5", n: 2 }, { px: "99.0", sz: "2.0", n: 1 }]);
        // The ETH subscriber's coin did not change: nothing for it.
        await other.expectQuiet();
      });

      await t.step("a block that changes a level beyond nLevels sends nothing for that view", async () => {
        maker.place("BTC", "B", "97.0", "1.0");
        maker.place("BTC", "A", "105.0", "1.0");
        block();
        for (const c of clients) await c.expectQuiet();
      });

      await t.step("a status that does not touch the book sends no l2Book", async () => {
        maker.reject("BTC", "B", "100.0");
        block();
        for (const c of clients) await c.expectQuiet();
      });

      await t.step("bbo and allMids are sent only when they change", async () => {
        const bbo = await subscribed(url, { type: "bbo", coin: "BTC" });
        const mids = await subscribed(url, { type: "allMids" });
        try {
          await bbo.nextOn("bbo");
          assertEquals((await mids.nextOn("allMids")).data.mids, { BTC: "100.5", ETH: "10.5" });
          maker.place("BTC", "B", "96.0", "1.0");
          block();
          await bbo.expectQuiet();
          await mids.expectQuiet();
          const oid = maker.place("BTC", "A", "100.5", "1.0");
          block();
          assertEquals((await bbo.next()).data.bbo, [{ px: "100.0", sz: "1.5", n: 2 }, {
            px: "100.5",
            sz: "1.0",
            n: 1,
          }]);
          assertEquals((await mids.next()).data.mids, { BTC: "100.25", ETH: "10.5" });
          maker.cancel(oid);
          block();
          assertEquals((await mids.next()).data.mids, { BTC: "100.5", ETH: "10.5" });
          for (const c of clients.slice(0, 5)) await c.nextOn("l2Book");
        } finally {
          await bbo.close();
          await mids.close();
        }
      });

      await t.step("metrics count the messages, and the fan-out histogram observes every block once", () => {
        assert(metrics.value("hlbook_messages_sent_total") > 10);
        assert(metrics.value("hlbook_bytes_sent_total") > 1000);
        assertEquals(metrics.value("hlbook_fanout_ms"), blocks);
        const text = metrics.render();
        assert(text.includes("hlbook_fanout_ms_bucket"));
        assert(text.includes("hlbook_clients 6"));
      });
    } finally {
      for (const c of clients) await c.close();
    }
  });
});

Deno.test("an l4Book client that applies the snapshot and every Updates ends with the server's book", async () => {
  await withServer(
    async ({ feed, url }) => {
      const { books, maker } = sampleBooks();
      feed.reset(books);
      feed.state({ phase: "ready", height: books.height, time: books.time });
      const c = await subscribed(url, { type: "l4Book", coin: "BTC" });
      try {
        const snap = (await c.nextOn("l4Book")).data.Snapshot;
        const mirror = booksOfL4Snapshot(snap);
        // A deterministic mix of places, resizes and cancels on BTC (and ETH noise the client never sees).
        let seed = 7;
        const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
        const blocks = 40;
        for (let b = 0; b < blocks; b++) {
          for (let i = 0; i < 3; i++) {
            const r = rand();
            const btc = [...maker.resting].filter(([, o]) => o.coin === "BTC");
            if (r < 0.5 || btc.length < 3) {
              const bid = rand() < 0.5;
              const px = bid ? 90 + Math.floor(rand() * 10) : 101 + Math.floor(rand() * 10);
              maker.place("BTC", bid ? "B" : "A", `${px}.0`, `${1 + Math.floor(rand() * 9)}.0`);
            } else if (r < 0.75) {
              maker.resize(btc[Math.floor(rand() * btc.length)][0], `0.${1 + Math.floor(rand() * 8)}`);
            } else {
              maker.cancel(btc[Math.floor(rand() * btc.length)][0]);
            }
          }
          if (b % 5 === 0) maker.place("ETH", "B", "9.0", "1.0");
          feed.block(books, maker.apply());
          if (b % 7 === 0) feed.block(books, maker.apply()); // an empty block: no Updates for it
        }
        // Apply every Updates the client got, filling the gaps of blocks without BTC events with empty blocks.
        const updates = applyL4Updates(mirror, await c.collect());
        assert(updates >= 30, `only ${updates} Updates`);
        const serverBtc = Books.fromSnapshot([books.height, [[
          "BTC",
          [
            books.l4("BTC")[0].map(({ user, ...o }) => [user, o as NodeOrder] as const),
            books.l4("BTC")[1].map(({ user, ...o }) => [user, o as NodeOrder] as const),
          ],
        ]]]);
        assertEquals(compareBooks(serverBtc, mirror), null);
      } finally {
        await c.close();
      }
    },
    {},
    { l4Chunk: 2 },
  );
});

Deno.test("a subscriber before the book is ready is acknowledged, told the state, and gets its snapshot", async (t) => {
  await withServer(async ({ feed, url }) => {
    feed.state({ phase: "starting", height: 0, time: 0 });
    const l2 = await WsClient.open(url);
    const l4 = await WsClient.open(url);
    try {
      await t.step("subscriptions are accepted for any coin name while there is no book", async () => {
        l2.send({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC" } });
        assertEquals((await l2.next()).channel, "subscriptionResponse");
        assertEquals(await l2.next(), {
          channel: "hlbookStatus",
          data: { phase: "starting", height: 0, time: 0 },
        });
        l4.send({ method: "subscribe", subscription: { type: "l4Book", coin: "ETH" } });
        assertEquals((await l4.next()).channel, "subscriptionResponse");
        await l4.nextOn("hlbookStatus");
        l2.send({
          method: "post",
          id: 1,
          request: { type: "info", payload: { type: "l2Book", coin: "BTC" } },
        });
        assertEquals((await l2.next()).data.response.type, "error");
      });

      const { books, maker } = sampleBooks();
      await t.step("the snapshot arrives when the book is reset", async () => {
        feed.reset(books);
        assertEquals((await l2.next()).data.levels[1][0], { px: "101.0", sz: "1.5", n: 1 });
        assertEquals((await l4.next()).data.Snapshot.height, books.height);
        feed.state({ phase: "ready", height: books.height, time: books.time });
        assertEquals((await l2.next()).data.phase, "ready");
      });

      await t.step(
        "stale and re-syncing are told to subscribers; a re-sync sends fresh snapshots",
        async () => {
          feed.state({ phase: "stale", height: books.height, time: books.time });
          assertEquals((await l2.next()).data.phase, "stale");
          feed.state({ phase: "resyncing", height: books.height, time: books.time });
          assertEquals((await l2.next()).data.phase, "resyncing");
          // Blocks of the old book are not served while re-syncing.
          maker.place("BTC", "B", "100.0", "1.0");
          feed.block(books, maker.apply());
          await l2.expectQuiet();
          feed.reset(books);
          assertEquals((await l2.next()).data.levels[0][0], { px: "100.0", sz: "2.0", n: 2 });
          assertEquals((await l4.nextOn("l4Book")).data.Snapshot.height, books.height);
          feed.state({ phase: "ready", height: books.height, time: books.time });
          assertEquals((await l2.next()).data.phase, "ready");
        },
      );
    } finally {
      await l2.close();
      await l4.close();
    }
  });
});
