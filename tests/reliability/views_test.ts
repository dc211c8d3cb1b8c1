/**
 * Every subscriber's l2Book view stays equal to the simulator's book: many coins × views, a mainnet-like
 * flow, re-syncs in between; at each checkpoint (node paused, hlbook caught up) the latest l2Book each
 * subscriber received must equal the simulator's view at the node's height.
 */
import assert from "node:assert/strict";
import { referenceL2 } from "../_support/l2_reference.ts";
import { FakeInfo, FaultyNode, waitCaughtUp, waitLive } from "./_harness.ts";
import { Hlbook } from "../_support/hlbook.ts";
import { tempDirs } from "../_support/temp.ts";
import { WsClient } from "../_support/ws_client.ts";

const VIEWS: Record<string, number>[] = [
  {},
  { nSigFigs: 5 },
  { nSigFigs: 4 },
  { nSigFigs: 3 },
  { nSigFigs: 2 },
  {
    nSigFigs: 5,
    mantissa: 2,
  },
  { nSigFigs: 5, mantissa: 5 },
  { nLevels: 50 },
  { nLevels: 3 },
  { nSigFigs: 3, nLevels: 100 },
];

Deno.test("every subscriber's l2Book equals the simulator's view through blocks and re-syncs", async () => {
  const dirs = await tempDirs();
  const node = new FaultyNode(dirs.data, { seed: 94, coins: 7, ordersPerCoin: 400 });
  node.createDirs();
  const info = new FakeInfo(node);
  let hlbook: Hlbook | null = null;
  const clients: WsClient[] = [];
  try {
    hlbook = await Hlbook.start({
      dataDir: dirs.data,
      infoUrl: info.url,
      snapshotPath: dirs.snapshot,
      stallTimeout: 5,
    });
    const server = hlbook;
    await waitLive(server, node);
    const subs: { client: WsClient; coin: string; view: Record<string, number> }[] = [];
    // One connection per view: l2Book messages name the coin, not the view.
    for (const coin of node.coins()) {
      for (const view of VIEWS) {
        const client = await WsClient.open(server.wsUrl);
        clients.push(client);
        client.send({ method: "subscribe", subscription: { type: "l2Book", coin, ...view } });
        subs.push({ client, coin, view });
      }
    }
    for (let round = 0; round < 6; round++) {
      await node.advance(20, 20);
      if (round % 2 === 1) {
        node.step(); // a missing block: re-sync
        await node.advance(1 + round, 20);
      }
      await waitCaughtUp(server, node);
      for (const client of clients) await client.settled();
      const wrong: string[] = [];
      for (const { client, coin, view } of subs) {
        const last = client.messages.findLast((m) => m.channel === "l2Book");
        const params = {
          nSigFigs: view.nSigFigs ?? null,
          mantissa: view.mantissa ?? null,
          nLevels: view.nLevels ?? 20,
        };
        const truth = referenceL2(node.truth, coin, params);
        try {
          assert.deepEqual((last?.data as { levels: unknown } | undefined)?.levels, truth);
        } catch {
          wrong.push(`${coin} ${JSON.stringify(view)}`);
        }
      }
      assert.deepEqual(
        wrong,
        [],
        `round ${round} at height ${node.height}: views that differ from the simulator's`,
      );
    }
  } finally {
    for (const client of clients) client.close();
    await hlbook?.close();
    await info.close();
    await dirs.remove();
  }
});
