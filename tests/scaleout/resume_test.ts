/**
 * Resume by height over NATS (the hlbook extension `"hlbook":{"fromHeight":H}`): a client that leaves one
 * edge and subscribes on another with the heights it had seen gets every trade and l4Book update after them,
 * none twice and no snapshot; a height older than the stream holds gets a gap notice and a fresh snapshot.
 */
import assert from "node:assert/strict";
import { natsTestOptions } from "../_support/nats.ts";
import { sleep } from "../_support/wait.ts";
import { resumeHeight } from "../../src/scaleout/edge_link.ts";
import { Checker, Deployment, L4_COIN } from "./_deployment.ts";

Deno.test({
  ...natsTestOptions(
    "a client moved from edge 1 to edge 2 with fromHeight misses no trade or l4 update and gets none twice",
  ),
  async fn(t) {
    const deployment = await Deployment.start(2);
    const [one, two] = deployment.edges;
    const open: Checker[] = [];
    try {
      await t.step("resumed on another edge: the rest of the trades and l4 updates, once each", async () => {
        const first = await Checker.open(deployment, one.wsUrl, { coins: [] });
        open.push(first);
        await first.until("20 l4Book updates and a trade", (s) => s.l4Updates >= 20 && s.tids.length > 0);
        await first.close();
        const resume = { trades: first.lastTradeHeight, l4: first.l4Height, mirror: first.mirror };
        // Blocks go by while the client is away: the stream keeps them.
        await sleep(1000);
        const second = await Checker.open(deployment, two.wsUrl, { coins: [], resume });
        open.push(second);
        await second.until(
          "20 more l4Book updates and a trade",
          (s) => s.l4Updates >= 20 && s.tids.length > 0,
        );
        assert.equal(
          second.seen.l4Snapshots,
          0,
          "no l4Book snapshot: the updates continue the client's book",
        );
        assert.deepEqual(second.seen.statuses, [], "no gap notice");
        second.assertTradesComplete("BTC", first.seen.trades);
        assert.ok((await two.metric("hlbook_resumes_total")) >= 2, "both views resumed from the stream");
      });

      await t.step("a height older than the stream: a gap notice, then a fresh snapshot", async () => {
        const old = await Checker.open(deployment, two.wsUrl, {
          coins: [],
          resume: { trades: 1, l4: 1, mirror: null },
        });
        open.push(old);
        await old.until("a fresh l4Book and 5 updates", (s) => s.l4Snapshots === 1 && s.l4Updates >= 5);
        assert.ok(old.seen.statuses.includes("gap 1"), `gap notices: ${old.seen.statuses}`);
        assert.ok(old.l4Height > 1 && old.mirror?.coins().includes(L4_COIN));
      });

      await t.step("without the extension the subscribe is the official one: a snapshot first", async () => {
        const plain = await Checker.open(deployment, two.wsUrl, { coins: [] });
        open.push(plain);
        await plain.until("an l4Book snapshot and updates", (s) => s.l4Snapshots === 1 && s.l4Updates >= 3);
        assert.deepEqual(plain.seen.statuses, []);
      });
    } finally {
      for (const checker of open) await checker.close();
      await deployment.stop();
    }
  },
});

Deno.test("only a trades or l4Book subscribe with a whole fromHeight ≥ 0 is a resume", () => {
  const sub = (subscription: unknown, hlbook?: unknown) =>
    JSON.stringify({ method: "subscribe", subscription, ...(hlbook === undefined ? {} : { hlbook }) });
  assert.equal(resumeHeight(sub({ type: "trades", coin: "BTC" }, { fromHeight: 7 })), 7);
  assert.equal(resumeHeight(sub({ type: "l4Book", coin: "@107" }, { fromHeight: 0 })), 0);
  for (
    const text of [
      sub({ type: "trades", coin: "BTC" }),
      sub({ type: "l2Book", coin: "BTC" }, { fromHeight: 7 }),
      sub({ type: "trades", coin: "BTC" }, { fromHeight: -1 }),
      sub({ type: "trades", coin: "BTC" }, { fromHeight: 1.5 }),
      sub({ type: "trades", coin: "BTC" }, { fromHeight: "7" }),
      sub({ type: "trades", coin: "BTC" }, null),
      JSON.stringify({
        method: "unsubscribe",
        subscription: { type: "trades", coin: "BTC" },
        hlbook: { fromHeight: 7 },
      }),
      '{"method":"subscribe","hlbook":',
    ]
  ) assert.equal(resumeHeight(text), null, text);
});
