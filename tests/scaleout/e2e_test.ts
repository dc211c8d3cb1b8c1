/**
 * One core and two edges over a real `nats-server -js`, fed by the simulated node, all real processes: every
 * l2Book, trades and l4Book message on both edges equals the simulator at the block it names, and no trade is
 * missed or repeated.
 */
import assert from "node:assert/strict";
import { natsTestOptions } from "../_support/nats.ts";
import { Checker, Deployment } from "./_deployment.ts";

Deno.test({
  ...natsTestOptions(
    "one core + two edges over NATS: every l2Book, trades and l4Book on both edges equals the simulator",
  ),
  async fn() {
    const deployment = await Deployment.start(2);
    const checkers: Checker[] = [];
    try {
      for (const edge of deployment.edges) checkers.push(await Checker.open(deployment, edge.wsUrl));
      for (const checker of checkers) {
        await checker.until(
          "60 l2Book messages, 30 l4Book Updates and some trades",
          (seen) => seen.l2 >= 60 && seen.l4Updates >= 30 && seen.tids.length > 0,
        );
      }
      for (const checker of checkers) {
        assert.equal(checker.seen.l4Snapshots, 1, "one l4Book snapshot, then updates only");
        checker.assertTradesComplete();
      }
      // POST /info on an edge is answered by the core over NATS, equal to the simulator at the block it names.
      for (const edge of deployment.edges) {
        const { status, body } = await edge.info({ type: "l2Book", coin: "BTC" });
        assert.equal(status, 200);
        const answer = body as { time: number; levels: unknown };
        assert.deepEqual(answer.levels, deployment.truth.bookAt("BTC", answer.time));
      }
      // A second core started by mistake stands by: it publishes nothing, the clients stay equal to the truth.
      const second = await deployment.spawnCore();
      try {
        await second.process.line(/another core holds the core lock/, 30_000);
        const before = checkers.map((c) => c.seen.l2);
        for (const [i, checker] of checkers.entries()) {
          await checker.until("20 more l2Book messages", (seen) => seen.l2 >= before[i] + 20);
        }
        assert.equal(await second.metric("hlbook_nats_published_total"), 0, "the second core published");
        assert.equal(await second.metric("hlbook_nats_core_lock_held"), 0);
        assert.equal((await second.health()).ready, false, "a stand-by core is not ready");
      } finally {
        await second.close();
      }
      const published = await deployment.core!.metric("hlbook_nats_published_total");
      assert.ok(published > 0, "the core published view messages");
      for (const edge of deployment.edges) {
        assert.ok((await edge.metric("hlbook_nats_received_total")) > 0, "the edge received them");
        assert.equal(await edge.metric("hlbook_nats_gaps_total"), 0, "no block height skipped");
      }
    } finally {
      for (const checker of checkers) await checker.close();
      await deployment.stop();
    }
  },
});
