import { assert, assertEquals } from "../_support/assert.ts";
import { InfoClient, SubscriptionClient, WebSocketTransport } from "@nktkas/hyperliquid";
import { withServer } from "../feed/_helpers.ts";
import { waitFor, withTimeout } from "../_support/wait.ts";
import { activeUsers, SimFeed } from "../feed/_user_harness.ts";

Deno.test("the @nktkas/hyperliquid SDK subscribes to orderUpdates, userFills and candle and parses them", async (t) => {
  await withServer(async ({ feed, url, http }) => {
    const h = new SimFeed({ seed: 13, load: 0.6 }, undefined, feed);
    for (let i = 0; i < 40; i++) h.step();
    const [user] = activeUsers(h.blocks.map((b) => b.block), 1) as `0x${string}`[];
    const transport = new WebSocketTransport({ url, timeout: 5000, reconnect: { maxRetries: 0 } });
    try {
      await withTimeout(transport.ready(), 5000, "SDK connection");
      const client = new SubscriptionClient({ transport });
      // deno-lint-ignore no-explicit-any
      const orders: any[][] = [];
      // deno-lint-ignore no-explicit-any
      const fills: any[] = [];
      // deno-lint-ignore no-explicit-any
      const candles: any[] = [];
      const subs = await withTimeout(
        Promise.all([
          client.orderUpdates({ user }, (data) => orders.push(data)),
          client.userFills({ user }, (data) => fills.push(data)),
          client.candle({ coin: "BTC", interval: "1m" }, (data) => candles.push(data)),
        ]),
        5000,
        "subscribes",
      );
      const start = h.blocks.length;
      let traded = false;
      for (let i = 0; i < 300 && !(traded && orders.length > 0 && candles.length > 0); i++) {
        const b = h.step();
        traded ||= b.fills.some(([u]) => u === user);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      const blocks = h.blocks.slice(start).map((b) => b.block);

      await t.step("orderUpdates: the listener gets WsOrder arrays", async () => {
        await waitFor("orderUpdates", () => orders.length > 0, 5000);
        const first = orders[0][0];
        assertEquals(typeof first.order.oid, "number");
        assertEquals(typeof first.statusTimestamp, "number");
        const status = blocks.flatMap((b) => b.statuses).find((s) => s.order.oid === first.order.oid);
        assert(status !== undefined && status.user === user);
        assertEquals(first.status, status.status);
      });

      await t.step("userFills: a snapshot flagged isSnapshot, then the user's new fills", async () => {
        await waitFor("userFills", () => fills.length >= 2, 5000);
        assertEquals(fills[0].isSnapshot, true);
        assertEquals(fills[0].user, user);
        const expected = blocks.flatMap((b) => b.fills.filter(([u]) => u === user).map(([, f]) => f.tid));
        assertEquals(fills.slice(1).flatMap((m) => m.fills.map((f: { tid: number }) => f.tid)), expected);
      });

      await t.step("candle: the listener gets {t,T,s,i,o,c,h,l,v,n}", async () => {
        await waitFor("candle", () => candles.length > 0, 5000);
        const c = candles[candles.length - 1];
        assertEquals(c.s, "BTC");
        assertEquals(c.i, "1m");
        assertEquals(c.T, c.t + 59_999);
        assert(typeof c.v === "string" && c.n > 0);
      });

      await t.step(
        "info: openOrders, userFills and candleSnapshot over the socket and over HTTP",
        async () => {
          const info = new InfoClient({ transport });
          const open = await withTimeout(info.openOrders({ user }), 5000, "openOrders");
          const viaHttp = await (await fetch(`${http}/info`, {
            method: "POST",
            body: JSON.stringify({ type: "openOrders", user }),
          })).json();
          assertEquals(open, viaHttp);
          const userFills = await withTimeout(info.userFills({ user }), 5000, "userFills");
          assertEquals(
            userFills.length,
            h.blocks.flatMap((b) => b.block.fills).filter(([u]) => u === user).length,
          );
          const snapshot = await withTimeout(
            info.candleSnapshot({ coin: "BTC", interval: "1m", startTime: 0 }),
            5000,
            "candleSnapshot",
          );
          assertEquals(snapshot[snapshot.length - 1], candles[candles.length - 1]);
        },
      );

      for (const sub of subs) await withTimeout(sub.unsubscribe(), 5000, "unsubscribe");
    } finally {
      transport.close();
    }
  });
});
