import assert from "node:assert/strict";
import { MESSAGES_PER_TURN } from "../../src/server/socket.ts";
import { sampleBooks, withServer } from "../feed/_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";

Deno.test("a client pipelining many requests is answered in order, a few per event-loop turn", async () => {
  const { books, maker } = sampleBooks();
  await withServer(async ({ feed, url }) => {
    feed.reset(books);
    feed.state({ phase: "ready", height: books.height, time: books.time });
    const flooder = await WsClient.open(url);
    const watcher = await WsClient.open(url);
    try {
      watcher.send({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC" } });
      await watcher.nextOn("l2Book");
      const n = MESSAGES_PER_TURN * 40;
      for (let id = 0; id < n; id++) {
        flooder.send({
          method: "post",
          id,
          request: { type: "info", payload: { type: "l2Book", coin: "BTC", nLevels: 100 } },
        });
      }
      flooder.send({ method: "ping" });
      // A block while the flood is being answered still reaches the other client.
      maker.place("BTC", "B", "100.5", "1.0");
      feed.block(books, maker.apply());
      const update = await watcher.nextOn("l2Book");
      assert.equal(update.data.levels[0][0].px, "100.5");
      for (let id = 0; id < n; id++) {
        const msg = await flooder.next();
        assert.equal(msg.channel, "post");
        assert.equal(msg.data.id, id);
      }
      assert.equal(await flooder.nextText(), '{"channel":"pong"}');
    } finally {
      await flooder.close();
      await watcher.close();
    }
  });
});
