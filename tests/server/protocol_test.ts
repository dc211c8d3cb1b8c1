import { assert, assertEquals, assertMatch } from "../_support/assert.ts";
import { L4_ORDER_KEYS, sampleBooks, trade, withServer } from "../feed/_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";

Deno.test("every request gets its official answer over a real WebSocket", async (t) => {
  await withServer(async ({ feed, url }) => {
    const { books } = sampleBooks();
    feed.reset(books);
    feed.state({ phase: "ready", height: books.height, time: books.time });
    const c = await WsClient.open(url);
    try {
      await t.step("ping is answered with pong", async () => {
        c.send({ method: "ping" });
        assertEquals(await c.nextText(), '{"channel":"pong"}');
      });

      await t.step(
        "l2Book subscribe echoes the request with nSigFigs and mantissa, then a snapshot",
        async () => {
          c.send({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC" } });
          assertEquals(
            await c.nextText(),
            '{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":' +
              '{"type":"l2Book","coin":"BTC","nSigFigs":null,"mantissa":null}}}',
          );
          assertEquals(
            await c.nextText(),
            `{"channel":"l2Book","data":{"coin":"BTC","time":${books.time},"levels":[[` +
              '{"px":"100.0","sz":"1.0","n":1},{"px":"99.0","sz":"2.0","n":1},{"px":"98.0","sz":"3.0","n":1}],[' +
              '{"px":"101.0","sz":"1.5","n":1},{"px":"102.0","sz":"2.5","n":1}]]}}',
          );
        },
      );

      await t.step("the echo keeps every key the client sent, nulls included", async () => {
        c.send({
          method: "subscribe",
          subscription: { type: "l2Book", coin: "BTC", nSigFigs: 2, mantissa: null, nLevels: 5 },
        });
        const response = await c.next();
        assertEquals(response, {
          channel: "subscriptionResponse",
          data: {
            method: "subscribe",
            subscription: { type: "l2Book", coin: "BTC", nSigFigs: 2, mantissa: null, nLevels: 5 },
          },
        });
        const snapshot = await c.next();
        // Two significant figures: 101 and 102 round up into the 110 bucket; 100, 99 and 98 stay exact.
        assertEquals(snapshot.data.levels[1], [{ px: "110.0", sz: "4.0", n: 2 }]);
        assertEquals(snapshot.data.levels[0].length, 3);
      });

      await t.step("trades, bbo and allMids subscriptions answer with the official shapes", async () => {
        c.send({ method: "subscribe", subscription: { type: "trades", coin: "BTC" } });
        assertEquals(
          await c.nextText(),
          '{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}}',
        );
        c.send({ method: "subscribe", subscription: { type: "bbo", coin: "BTC" } });
        await c.nextOn("subscriptionResponse");
        assertEquals(
          await c.nextText(),
          `{"channel":"bbo","data":{"coin":"BTC","time":${books.time},"bbo":[{"px":"100.0","sz":"1.0","n":1},` +
            '{"px":"101.0","sz":"1.5","n":1}]}}',
        );
        c.send({ method: "subscribe", subscription: { type: "allMids" } });
        assertEquals((await c.next()).data, { method: "subscribe", subscription: { type: "allMids" } });
        assertEquals(await c.next(), { channel: "allMids", data: { mids: { BTC: "100.5", ETH: "10.5" } } });
        feed.trades([trade("BTC", 1), trade("ETH", 2), trade("BTC", 3)]);
        assertEquals(
          await c.nextText(),
          '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"100.0","sz":"1.5","time":1700000000001,' +
            '"hash":"0xabc","tid":1,"users":["0x00000000000000000000000000000000000000b1",' +
            '"0x00000000000000000000000000000000000000a1"]},{"coin":"BTC","side":"B","px":"100.0","sz":"1.5",' +
            '"time":1700000000003,"hash":"0xabc","tid":3,"users":["0x00000000000000000000000000000000000000b1",' +
            '"0x00000000000000000000000000000000000000a1"]}]}',
        );
      });

      await t.step("duplicate subscribe and unknown unsubscribe get the official errors", async () => {
        c.send('{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}');
        assertEquals(
          await c.nextText(),
          '{"channel":"error","data":"Already subscribed: {\\"type\\":\\"trades\\",\\"coin\\":\\"BTC\\"}"}',
        );
        c.send({ method: "unsubscribe", subscription: { type: "trades", coin: "ETH" } });
        assertEquals(await c.next(), {
          channel: "error",
          data: 'Already unsubscribed: {"type":"trades","coin":"ETH"}',
        });
        // Identity is the normalised form: an explicit default is the same subscription.
        c.send({
          method: "subscribe",
          subscription: { type: "l2Book", coin: "BTC", nSigFigs: null, mantissa: null, nLevels: 20 },
        });
        assertMatch((await c.next()).data, /^Already subscribed: \{"type":"l2Book"/);
      });

      await t.step("unsubscribe is acknowledged and stops the messages", async () => {
        c.send({ method: "unsubscribe", subscription: { type: "trades", coin: "BTC" } });
        assertEquals(await c.next(), {
          channel: "subscriptionResponse",
          data: { method: "unsubscribe", subscription: { type: "trades", coin: "BTC" } },
        });
        feed.trades([trade("BTC", 4)]);
        await c.expectQuiet();
      });

      await t.step("bad requests get an error and the connection stays open", async () => {
        const cases: [unknown, string][] = [
          ["not json", "Error parsing JSON into valid websocket request: not json"],
          ["[1,2]", "Error parsing JSON into valid websocket request: [1,2]"],
          [{ method: "nope" }, 'Error parsing JSON into valid websocket request: {"method":"nope"}'],
          [
            { method: "subscribe", subscription: { type: "noSuchType", coin: "BTC" } },
            'Error parsing JSON into valid websocket request: {"method":"subscribe","subscription":{"type":"noSuchType","coin":"BTC"}}',
          ],
          [
            { method: "subscribe" },
            'Error parsing JSON into valid websocket request: {"method":"subscribe"}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "NOPE" } },
            'Invalid subscription {"type":"l2Book","coin":"NOPE"}',
          ],
          [
            { method: "subscribe", subscription: { type: "trades", coin: "NOPE" } },
            'Invalid subscription {"type":"trades","coin":"NOPE"}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nSigFigs: 1 } },
            'Invalid subscription {"type":"l2Book","coin":"BTC","nSigFigs":1}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nSigFigs: 6 } },
            'Invalid subscription {"type":"l2Book","coin":"BTC","nSigFigs":6}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nSigFigs: 4, mantissa: 2 } },
            'Invalid subscription {"type":"l2Book","coin":"BTC","nSigFigs":4,"mantissa":2}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nSigFigs: 5, mantissa: 3 } },
            'Invalid subscription {"type":"l2Book","coin":"BTC","nSigFigs":5,"mantissa":3}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "BTC", mantissa: 2 } },
            'Invalid subscription {"type":"l2Book","coin":"BTC","mantissa":2}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nLevels: 0 } },
            'Invalid subscription {"type":"l2Book","coin":"BTC","nLevels":0}',
          ],
          [
            { method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nLevels: 101 } },
            'Invalid subscription {"type":"l2Book","coin":"BTC","nLevels":101}',
          ],
          [
            { method: "subscribe", subscription: { type: "l4Book", coin: 5 } },
            'Invalid subscription {"type":"l4Book","coin":5}',
          ],
        ];
        for (const [request, error] of cases) {
          c.send(request);
          assertEquals(await c.next(), { channel: "error", data: error }, `for ${JSON.stringify(request)}`);
        }
        c.send({ method: "ping" });
        assertEquals(await c.nextText(), '{"channel":"pong"}');
      });

      await t.step("binary frames are answered with an error", async () => {
        c.socket.send(new Uint8Array([1, 2, 3]));
        assertMatch((await c.next()).data, /^Binary frames are not supported/);
      });

      await t.step("post answers l2Book and allMids info requests with the official envelope", async () => {
        c.send({
          method: "post",
          id: 7,
          request: { type: "info", payload: { type: "l2Book", coin: "BTC", nSigFigs: 5, mantissa: null } },
        });
        const l2 = await c.next();
        assertEquals(l2.channel, "post");
        assertEquals(l2.data.id, 7);
        assertEquals(l2.data.response.type, "info");
        assertEquals(l2.data.response.payload.type, "l2Book");
        assertEquals(l2.data.response.payload.data.coin, "BTC");
        assertEquals(l2.data.response.payload.data.time, books.time);
        assertEquals(l2.data.response.payload.data.levels[0][0], { px: "100.0", sz: "1.0", n: 1 });
        c.send({ method: "post", id: 8, request: { type: "info", payload: { type: "allMids" } } });
        assertEquals(await c.next(), {
          channel: "post",
          data: {
            id: 8,
            response: { type: "info", payload: { type: "allMids", data: { BTC: "100.5", ETH: "10.5" } } },
          },
        });
        c.send({ method: "post", id: 9, request: { type: "info", payload: { type: "meta" } } });
        const error = await c.next();
        assertEquals(error.data.id, 9);
        assertEquals(error.data.response.type, "error");
        assert(typeof error.data.response.payload === "string");
      });

      await t.step("l4Book subscribe sends the coin's full snapshot", async () => {
        c.send({ method: "subscribe", subscription: { type: "l4Book", coin: "ETH" } });
        await c.nextOn("subscriptionResponse");
        const snapshot = await c.next();
        assertEquals(snapshot.channel, "l4Book");
        const s = snapshot.data.Snapshot;
        assertEquals([s.coin, s.height, s.time], ["ETH", books.height, books.time]);
        assertEquals(s.levels[0].length, 1);
        assertEquals(s.levels[1].length, 1);
        assertEquals(Object.keys(s.levels[0][0]), [...L4_ORDER_KEYS]);
        assertEquals([s.levels[0][0].limitPx, s.levels[0][0].sz], ["10.0", "1.0"]);
      });
    } finally {
      await c.close();
    }
  });
});
