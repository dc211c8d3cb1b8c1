import { assert, assertEquals, assertMatch } from "../_support/assert.ts";
import { sampleBooks } from "../feed/_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";
import { postInfo, startFakeInfoNode, withProxyServer } from "./_info_node.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("POST /info forwards the types hlbook does not answer to the node, verbatim", async (t) => {
  const node = startFakeInfoNode();
  // Odd spacing and key order: what comes back must be these bytes, not a re-serialisation.
  const state = '{ "marginSummary" : {"accountValue":"12.50"},  "time":1700000000000 }';
  node.answers.set("clearinghouseState", { body: state, contentType: "application/json; charset=utf-8" });
  node.answers.set("meta", { body: '{"universe":[{"name":"BTC","szDecimals":5}] ,"collateralToken":0}' });
  node.answers.set("exchangeStatus", { body: "not json at all", status: 500, contentType: "text/plain" });
  try {
    await withProxyServer(node.url, async ({ http, feed }) => {
      await t.step(
        "an unknown type reaches the node once, byte for byte, and its answer comes back byte-equal",
        async () => {
          const sent = '{"type":"clearinghouseState",   "user":"0x0000000000000000000000000000000000000001"}';
          const got = await postInfo(http, sent);
          assertEquals(got.status, 200);
          assertEquals(got.text, state);
          assertEquals(got.contentType, "application/json; charset=utf-8");
          assertEquals(node.received, [sent]);
        },
      );

      await t.step("per-user state is not cached: a second request reaches the node again", async () => {
        const sent = '{"type":"clearinghouseState","user":"0x0000000000000000000000000000000000000001"}';
        assertEquals((await postInfo(http, sent)).text, state);
        assertEquals(node.count("clearinghouseState"), 2);
      });

      await t.step("the node's errors are relayed with their status and body", async () => {
        const failing = await postInfo(http, '{"type":"exchangeStatus"}');
        assertEquals([failing.status, failing.text, failing.contentType], [
          500,
          "not json at all",
          "text/plain",
        ]);
        const unknown = await postInfo(http, '{"type":"noSuchType"}');
        assertEquals(unknown.status, 422);
        assertEquals(
          unknown.text,
          "Failed to deserialize the JSON body into the target type: type: unknown variant `noSuchType`",
        );
      });

      await t.step(
        "meta is asked once and then served from the short cache, concurrent requests included",
        async () => {
          const before = node.count("meta");
          const answers = await Promise.all(
            Array.from({ length: 5 }, () => postInfo(http, '{"type":"meta"}')),
          );
          for (const a of answers) {
            assertEquals(a.status, 200);
            assertEquals(a.text, '{"universe":[{"name":"BTC","szDecimals":5}] ,"collateralToken":0}');
          }
          assertEquals((await postInfo(http, '{ "type": "meta" }')).status, 200);
          assertEquals(node.count("meta") - before, 1);
        },
      );

      await t.step(
        "fileSnapshot (and anything naming an outPath) is refused and never reaches the node",
        async () => {
          const before = node.received.length;
          for (
            const body of [
              '{"type":"fileSnapshot","request":{"type":"l4Snapshots","includeUsers":true},"outPath":"/tmp/x.json"}',
              '{"type":"fileSnapshot","request":{"type":"referrerStates"},"outPath":"/etc/cron.d/x"}',
              '{"type":"someFutureType","outPath":"/tmp/y"}',
            ]
          ) {
            const got = await postInfo(http, body);
            assertEquals(got.status, 422, body);
            assertMatch(got.text, /^Failed to deserialize the JSON body into the target type: /);
            assertMatch(got.text, /makes the node write files/);
          }
          assertEquals(node.received.length, before);
        },
      );

      await t.step("hlbook's own types are still answered locally, not forwarded", async () => {
        const { books } = sampleBooks();
        feed.reset(books);
        feed.state({ phase: "ready", height: books.height, time: books.time });
        const before = node.received.length;
        const got = await postInfo(http, '{"type":"allMids"}');
        assertEquals([got.status, JSON.parse(got.text)], [200, { BTC: "100.5", ETH: "10.5" }]);
        // Types the feed answers from the node's files win over forwarding, errors included.
        const user = "0x00000000000000000000000000000000000000b1";
        for (
          const body of [
            { type: "openOrders", user },
            { type: "frontendOpenOrders", user },
            { type: "userFills", user },
            { type: "recentTrades", coin: "BTC" },
            { type: "openOrders", user: "not an address" },
          ]
        ) {
          const answer = await postInfo(http, JSON.stringify(body));
          assert(answer.status === 200 || answer.status === 400, `${body.type}: ${answer.status}`);
        }
        assertEquals(node.received.length, before);
      });

      await t.step("a WebSocket post of a forwarded type gets the node's answer, or its error", async () => {
        const c = await WsClient.open(http.replace("http", "ws") + "/ws");
        try {
          c.send({
            method: "post",
            id: 7,
            request: { type: "info", payload: { type: "clearinghouseState", user: "0x01" } },
          });
          const ok = await c.nextOn("post");
          assertEquals(ok.data.id, 7);
          assertEquals(ok.data.response.type, "info");
          assertEquals(ok.data.response.payload.type, "clearinghouseState");
          assertEquals(ok.data.response.payload.data, JSON.parse(state));
          c.send({ method: "post", id: 8, request: { type: "info", payload: { type: "noSuchType" } } });
          const bad = await c.nextOn("post");
          assertEquals(bad.data, {
            id: 8,
            response: {
              type: "error",
              payload:
                "Failed to deserialize the JSON body into the target type: type: unknown variant `noSuchType`",
            },
          });
          c.send({
            method: "post",
            id: 9,
            request: { type: "info", payload: { type: "fileSnapshot", outPath: "/tmp/z", request: {} } },
          });
          const refused = await c.nextOn("post");
          assertEquals(refused.data.id, 9);
          assertEquals(refused.data.response.type, "error");
          assertMatch(refused.data.response.payload, /makes the node write files/);
          assertEquals(node.count("fileSnapshot"), 0);
        } finally {
          await c.close();
        }
      });
    });
  } finally {
    await node.stop();
  }
});

Deno.test("a slow, dead, flooded or oversized info server gets a clean error, not a hung client", async (t) => {
  const node = startFakeInfoNode();
  node.answers.set("clearinghouseState", { body: "{}" });
  try {
    await withProxyServer(node.url, async ({ http, ws, metrics }) => {
      await t.step("slow: 504 after the timeout, and the server keeps answering meanwhile", async () => {
        node.delayMs = 5_000;
        const slow = postInfo(http, '{"type":"clearinghouseState","user":"0x01"}');
        const metricsPage = await fetch(`${http}/metrics`);
        assertEquals(metricsPage.status, 200);
        await metricsPage.body?.cancel();
        const got = await slow;
        assertEquals(got.status, 504);
        assertEquals(JSON.parse(got.text), { error: "the node's info server did not answer within 300 ms" });
        assertEquals(node.pending(), 1, "answered while the node still sits on the request");
        assert(metrics.value("hlbook_info_forward_failures_total") >= 1);
      });

      await t.step("flooded: past the concurrency cap requests are answered 429 at once", async () => {
        node.delayMs = 1_000;
        const waiting = [1, 2].map(() => postInfo(http, '{"type":"clearinghouseState","user":"0x02"}'));
        await new Promise((resolve) => setTimeout(resolve, 100)); // both in flight
        const third = await postInfo(http, '{"type":"clearinghouseState","user":"0x03"}');
        assertEquals(third.status, 429);
        assertMatch(JSON.parse(third.text).error, /at most 2 at once/);
        for (const got of await Promise.all(waiting)) assertEquals(got.status, 504);
        node.delayMs = 0;
      });

      await t.step("oversized: an answer over the cap is dropped with 502", async () => {
        node.hugeBytes = 8192;
        const got = await postInfo(http, '{"type":"clearinghouseState","user":"0x04"}');
        assertEquals(got.status, 502);
        assertEquals(JSON.parse(got.text), {
          error: "the node's info server answered with more than 4096 bytes",
        });
        node.hugeBytes = 0;
      });

      await t.step("the same over the WebSocket: a post error reply, the socket stays usable", async () => {
        node.delayMs = 5_000;
        const c = await WsClient.open(ws);
        try {
          c.send({
            method: "post",
            id: 1,
            request: { type: "info", payload: { type: "clearinghouseState", user: "0x05" } },
          });
          c.send({ method: "ping" });
          assertEquals((await c.next()).channel, "pong"); // not stuck behind the forwarded request
          const reply = await c.nextOn("post", 3000);
          assertEquals(reply.data, {
            id: 1,
            response: { type: "error", payload: "the node's info server did not answer within 300 ms" },
          });
        } finally {
          await c.close();
          node.delayMs = 0;
        }
      });
    }, { timeoutMs: 300, maxConcurrent: 2, maxResponseBytes: 4096 });
  } finally {
    await node.stop();
  }

  await t.step("dead: nothing listens at --info-url: 502 at once", async () => {
    await withProxyServer(`http://127.0.0.1:${freePort()}/info`, async ({ http }) => {
      const got = await postInfo(http, '{"type":"clearinghouseState","user":"0x01"}');
      assertEquals(got.status, 502);
      assertMatch(JSON.parse(got.text).error, /^the node's info server is unreachable: /);
      const meta = await postInfo(http, '{"type":"metaAndAssetCtxs"}');
      assertEquals(meta.status, 502);
    });
  });
});

Deno.test("metaAndAssetCtxs and spotMetaAndAssetCtxs: the node's meta verbatim plus one context per market", async (t) => {
  const node = startFakeInfoNode();
  const meta = '{"universe":[{"szDecimals":5,"name":"BTC","maxLeverage":40,"marginTableId":40},' +
    '{"szDecimals":4,"name":"ETH","maxLeverage":25,"marginTableId":25},' +
    '{"szDecimals":2,"name":"GONE","maxLeverage":3,"marginTableId":3,"isDelisted":true}],' +
    '"marginTables":[],"collateralToken":0}';
  const spotMeta = '{"universe":[{"tokens":[1,0],"name":"PURR/USDC","index":0,"isCanonical":true},' +
    '{"tokens":[2,0],"name":"@1","index":1,"isCanonical":false}],"tokens":[]}';
  node.answers.set("meta", { body: meta });
  node.answers.set("spotMeta", { body: spotMeta });
  try {
    await withProxyServer(node.url, async ({ http, feed, ws }) => {
      const { books, maker } = sampleBooks();
      maker.place("@1", "B", "2.0", "5.0");
      maker.place("@1", "A", "2.5", "5.0");
      feed.block(books, maker.apply());
      feed.reset(books);
      feed.state({ phase: "ready", height: books.height, time: books.time });

      await t.step("perps: [meta, ctxs] with the books' mids, in the universe's order", async () => {
        const got = await postInfo(http, '{"type":"metaAndAssetCtxs"}');
        assertEquals(got.status, 200);
        assert(got.text.startsWith(`[${meta},[`), "the node's meta, byte for byte");
        const [, ctxs] = JSON.parse(got.text);
        assertEquals(ctxs.map((c: { midPx: string | null }) => c.midPx), ["100.5", "10.5", null]);
        assertEquals(Object.keys(ctxs[0]), [
          "funding",
          "openInterest",
          "prevDayPx",
          "dayNtlVlm",
          "premium",
          "oraclePx",
          "markPx",
          "midPx",
          "impactPxs",
          "dayBaseVlm",
        ]);
      });

      await t.step("spot: [spotMeta, ctxs], one per pair with its coin", async () => {
        const got = await postInfo(http, '{"type":"spotMetaAndAssetCtxs"}');
        assertEquals(got.status, 200);
        const [sent, ctxs] = JSON.parse(got.text);
        assertEquals(sent, JSON.parse(spotMeta));
        assertEquals(ctxs.map((c: { coin: string; midPx: string | null }) => [c.coin, c.midPx]), [
          ["PURR/USDC", null],
          ["@1", "2.25"],
        ]);
      });

      await t.step(
        "asked again and again: the node's meta once (cache), the same answer while nothing changed",
        async () => {
          const before = node.count("meta");
          const first = await postInfo(http, '{"type":"metaAndAssetCtxs"}');
          for (let i = 0; i < 20; i++) {
            assertEquals((await postInfo(http, '{"type":"metaAndAssetCtxs"}')).text, first.text);
          }
          assertEquals(node.count("meta"), before);
          maker.place("BTC", "A", "100.75", "1.0");
          feed.block(books, maker.apply());
          const after = JSON.parse((await postInfo(http, '{"type":"metaAndAssetCtxs"}')).text);
          assertEquals(after[1][0].midPx, "100.375", "a new block is seen at once");
        },
      );

      await t.step("dex: the node is asked for that dex's meta", async () => {
        node.answers.set("meta", {
          body: '{"universe":[{"name":"xyz:TSLA","szDecimals":3}],"collateralToken":0}',
        });
        const got = await postInfo(http, '{"type":"metaAndAssetCtxs","dex":"xyz"}');
        assertEquals(got.status, 200);
        assertEquals(node.received.at(-1), '{"type":"meta","dex":"xyz"}');
        assertEquals(JSON.parse(got.text)[1][0].midPx, null);
        const bad = await postInfo(http, '{"type":"metaAndAssetCtxs","dex":5}');
        assertEquals(bad.status, 422);
      });

      await t.step("over the WebSocket post too", async () => {
        const c = await WsClient.open(ws);
        try {
          c.send({
            method: "post",
            id: 3,
            request: { type: "info", payload: { type: "spotMetaAndAssetCtxs" } },
          });
          const reply = await c.nextOn("post");
          assertEquals(reply.data.response.payload.type, "spotMetaAndAssetCtxs");
          assertEquals(reply.data.response.payload.data[1][1].midPx, "2.25");
        } finally {
          await c.close();
        }
      });
    });
  } finally {
    await node.stop();
  }
});

Deno.test("a built metaAndAssetCtxs answer is reused within its maximum age although blocks changed it", async () => {
  const node = startFakeInfoNode();
  node.answers.set("meta", { body: '{"universe":[{"szDecimals":5,"name":"BTC"}],"collateralToken":0}' });
  try {
    await withProxyServer(node.url, async ({ http, feed }) => {
      const { books, maker } = sampleBooks();
      feed.reset(books);
      feed.state({ phase: "ready", height: books.height, time: books.time });
      const first = await postInfo(http, '{"type":"metaAndAssetCtxs"}');
      assertEquals(JSON.parse(first.text)[1][0].midPx, "100.5");
      maker.place("BTC", "A", "100.75", "1.0");
      feed.block(books, maker.apply());
      assertEquals((await postInfo(http, '{"type":"metaAndAssetCtxs"}')).text, first.text);
    }, { ctxMaxAgeMs: 60_000 });
  } finally {
    await node.stop();
  }
});
