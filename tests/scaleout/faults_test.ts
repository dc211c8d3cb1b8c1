/**
 * Faults of a NATS deployment, all real processes over the simulated node: the nats-server killed and
 * restarted mid-stream, the core killed and started again, an edge killed. Throughout, every message a client
 * gets equals the simulator at the block it names (a wrong book fails at once); clients are told `stale` and
 * then `ready`, and continue.
 */
import assert from "node:assert/strict";
import { natsTestOptions } from "../_support/nats.ts";
import { sleep, waitFor } from "../_support/wait.ts";
import { Checker, Deployment } from "./_deployment.ts";

Deno.test({
  ...natsTestOptions(
    "NATS killed and restarted, the core killed and restarted, an edge killed: clients recover",
  ),
  async fn(t) {
    const deployment = await Deployment.start(2);
    const [one, two] = deployment.edges;
    const open: Checker[] = [];
    /** The trades from the new core on (those during its restart are missed, as hlbookStatus said). */
    let sinceRestart = 0;
    try {
      const client = await Checker.open(deployment, one.wsUrl);
      open.push(client);
      await client.until("a live feed", (s) => s.l2 >= 20 && s.l4Updates >= 10);

      await t.step(
        "nats-server killed mid-stream: stale, then ready and fresh snapshots when it is back",
        async () => {
          const before = { ...client.seen };
          await deployment.nats.kill();
          await client.until("hlbookStatus stale", (s) => s.statuses.includes("stale"), 10_000);
          const health = await one.health();
          assert.equal(health.stale, true, "/health of the edge says stale");
          assert.equal(health.ready, false);
          await sleep(1000); // blocks go by meanwhile: the core keeps its books
          await deployment.nats.restart();
          await client.until(
            "ready again, a fresh l4Book and the feed going on",
            (s) =>
              s.statuses.lastIndexOf("ready") > s.statuses.indexOf("stale") &&
              s.l4Snapshots > before.l4Snapshots && s.l2 >= before.l2 + 30 &&
              s.l4Updates >= before.l4Updates + 10,
            30_000,
          );
          await waitFor("the edge ready again", async () => (await one.health()).ready, 10_000, 100);
          assert.ok((await one.metric("hlbook_nats_stale_total")) >= 1);
        },
      );

      await t.step("the core killed and started again: the clients carry on from the new core", async () => {
        const before = { ...client.seen, statuses: client.seen.statuses.length };
        deployment.core!.process.child.kill("SIGKILL");
        await deployment.core!.close();
        await client.until(
          "hlbookStatus stale (the core is silent)",
          (s) => s.statuses.length > before.statuses && s.statuses.at(-1) === "stale",
          10_000,
        );
        // The dead core's lock expires within its TTL; the new one takes it then.
        await deployment.startCore();
        await client.until(
          "a fresh l4Book from the new core and the feed going on",
          (s) =>
            s.l4Snapshots > before.l4Snapshots && s.l2 >= before.l2 + 30 &&
            s.l4Updates >= before.l4Updates + 10,
          30_000,
        );
        assert.equal(client.seen.statuses.at(-1), "ready");
        sinceRestart = client.seen.trades.length;
      });

      await t.step("an edge killed: its client reconnects to the other edge and resumes", async () => {
        await client.until("a trade since the restart", (s) => s.tids.length > sinceRestart, 20_000);
        one.process.child.kill("SIGKILL");
        await client.ws.waitClosed(5000);
        const resume = { trades: client.lastTradeHeight, l4: client.l4Height, mirror: client.mirror };
        const moved = await Checker.open(deployment, two.wsUrl, { resume });
        open.push(moved);
        await moved.until(
          "l4Book updates and trades after the move",
          (s) => s.l4Updates >= 15 && s.tids.length > 0,
        );
        assert.equal(moved.seen.l4Snapshots, 0, "resumed: the updates continue the client's book");
        moved.assertTradesComplete("BTC", client.seen.trades.slice(sinceRestart));
      });
    } finally {
      for (const checker of open) await checker.close();
      await deployment.stop();
    }
  },
});
