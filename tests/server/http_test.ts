import { assert, assertEquals } from "../_support/assert.ts";
import { sampleBooks, withServer } from "../feed/_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";
import { referenceL2 } from "../_support/l2_reference.ts";
import { waitFor } from "../_support/wait.ts";

async function post(url: string, body: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("HTTP routes: /info, /health, /metrics and the static page", async (t) => {
  await withServer(async ({ feed, url, http }) => {
    await t.step("/info answers 503 before a book is loaded and /health says not ready", async () => {
      const info = await post(`${http}/info`, '{"type":"l2Book","coin":"BTC"}');
      assertEquals(info.status, 503);
      const response = await fetch(`${http}/health`);
      assertEquals(response.status, 503);
      const health = await response.json();
      assertEquals([health.ready, health.stale, health.phase, health.height], [false, false, "starting", 0]);
      assertEquals(health.reason, "no book yet");
      assertEquals([health.lagMs, health.blockTime], [null, null]);
      assertEquals(health.version, "test");
    });

    const { books, maker } = sampleBooks();
    feed.reset(books);
    feed.state({ phase: "ready", height: books.height, time: books.time });

    await t.step(
      "POST /info l2Book equals the reference and what the WebSocket sends for the view",
      async () => {
        // Prices off the 0.05 grid, so that 5 significant figures with mantissa 2 and 5 bucket differently.
        const extra = [maker.place("BTC", "B", "100.03", "0.5"), maker.place("BTC", "A", "100.98", "0.25")];
        feed.block(books, maker.apply());
        const c = await WsClient.open(url);
        try {
          for (
            const params of [{}, { nSigFigs: 2 }, { nSigFigs: 5 }, { nSigFigs: 5, mantissa: 2 }, {
              nSigFigs: 5,
              mantissa: 5,
            }]
          ) {
            c.send({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC", ...params } });
            await c.nextOn("subscriptionResponse");
            const ws = (await c.next()).data;
            const info = await post(
              `${http}/info`,
              JSON.stringify({ type: "l2Book", coin: "BTC", ...params }),
            );
            assertEquals(info.status, 200);
            const want = referenceL2(books, "BTC", {
              nSigFigs: null,
              mantissa: null,
              nLevels: 20,
              ...params,
            });
            assertEquals((info.body as { levels: unknown }).levels, want, JSON.stringify(params));
            assertEquals(info.body, ws);
          }
          for (const oid of extra) maker.cancel(oid);
          maker.place("BTC", "A", "101.0", "3.0");
          feed.block(books, maker.apply());
          const ws = (await c.nextOn("l2Book")).data;
          assertEquals((await post(`${http}/info`, '{"type":"l2Book","coin":"BTC"}')).body, ws);
        } finally {
          await c.close();
        }
      },
    );

    await t.step("POST /info allMids answers every mid", async () => {
      assertEquals(await post(`${http}/info`, '{"type":"allMids"}'), {
        status: 200,
        body: { BTC: "100.5", ETH: "10.5" },
      });
    });

    await t.step("bad /info bodies get 400 with a JSON error", async () => {
      for (
        const body of [
          "nope",
          "[]",
          '{"type":"meta"}',
          '{"type":"l2Book","coin":"NOPE"}',
          '{"type":"l2Book","coin":"BTC","nSigFigs":9}',
        ]
      ) {
        const answer = await post(`${http}/info`, body);
        assertEquals(answer.status, 400, body);
        assert(typeof (answer.body as { error: unknown }).error === "string");
      }
      const get = await fetch(`${http}/info`);
      assertEquals(get.status, 405);
      await get.body?.cancel();
    });

    await t.step("/health reflects the book, the clients and their subscriptions", async () => {
      const c = await WsClient.open(url);
      try {
        c.send({ method: "subscribe", subscription: { type: "trades", coin: "BTC" } });
        c.send({ method: "subscribe", subscription: { type: "bbo", coin: "ETH" } });
        await c.nextOn("subscriptionResponse");
        await c.nextOn("subscriptionResponse");
        const response = await fetch(`${http}/health`);
        assertEquals(response.status, 200);
        const health = await response.json();
        assertEquals(health.ready, true);
        assertEquals(health.reason, null);
        assertEquals(health.phase, "ready");
        assertEquals(health.height, books.height);
        assertEquals(health.blockTime, books.time);
        assert(health.lagMs > 0);
        assertEquals([health.clients, health.subscriptions], [1, 2]);
        feed.state({ phase: "stale", height: books.height, time: books.time });
        const staleResponse = await fetch(`${http}/health`);
        assertEquals(staleResponse.status, 503);
        const stale = await staleResponse.json();
        assertEquals([stale.ready, stale.stale, stale.reason], [false, true, "the node stopped writing"]);
        feed.state({ phase: "ready", height: books.height, time: books.time });
      } finally {
        await c.close();
      }
      // The server sees the close a moment after the client.
      const after = await waitFor("the server to see the client go", async () => {
        const health = await (await fetch(`${http}/health`)).json();
        return health.clients === 0 ? health : null;
      }, 2000);
      assertEquals([after.clients, after.subscriptions], [0, 0]);
    });

    await t.step("/metrics is Prometheus text with the feed's metrics", async () => {
      const response = await fetch(`${http}/metrics`);
      assert(response.headers.get("content-type")?.startsWith("text/plain"));
      const text = await response.text();
      for (
        const name of [
          "hlbook_clients 0",
          "hlbook_subscriptions 0",
          "# TYPE hlbook_messages_sent_total counter",
          "hlbook_bytes_sent_total",
          "hlbook_conflated_total",
          "hlbook_closed_slow_total",
          "hlbook_fanout_ms_count",
        ]
      ) assert(text.includes(name), `missing ${name}`);
    });

    await t.step(
      "GET / serves the page; assets get their content type; nothing outside src/web",
      async () => {
        const index = await fetch(`${http}/`);
        assertEquals(index.status, 200);
        assertEquals(index.headers.get("content-type"), "text/html; charset=utf-8");
        assert((await index.text()).length > 0);
        const page = await Deno.readTextFile(new URL("../../src/web/index.html", import.meta.url));
        assertEquals(await (await fetch(`${http}/index.html`)).text(), page);
        for (const [name, type] of [["app.js", "text/javascript"], ["style.css", "text/css"]]) {
          const response = await fetch(`${http}/${name}`);
          assertEquals(response.status, 200, name);
          assert(response.headers.get("content-type")?.startsWith(type));
          await response.body?.cancel();
        }
        for (
          const path of [
            "/missing.js",
            "/..%2f..%2fdeno.json",
            "/%2e%2e/server/http.ts",
            "/.hidden",
            "/a//b",
            "/%ff",
          ]
        ) {
          const response = await fetch(`${http}${path}`);
          assertEquals(response.status, 404, path);
          await response.body?.cancel();
        }
        const ws = await fetch(`${http}/ws`);
        assertEquals(ws.status, 426);
        await ws.body?.cancel();
      },
    );
  });
});

Deno.test("the WebSocket upgrade is accepted on / as well as /ws", async () => {
  await withServer(async ({ server }) => {
    const c = await WsClient.open(`ws://127.0.0.1:${server.port}/`);
    try {
      c.send({ method: "ping" });
      assertEquals(await c.nextText(), '{"channel":"pong"}');
    } finally {
      await c.close();
    }
  });
});

Deno.test("shutdown closes every WebSocket with 1001", async () => {
  let client: WsClient | null = null;
  await withServer(async ({ url }) => {
    client = await WsClient.open(url);
  });
  const closed = await (client as unknown as WsClient).waitClosed();
  assertEquals(closed.code, 1001);
});
