/**
 * Requests between edges and the core against a real `nats-server -js`: a reply larger than the server's
 * `max_payload` (an l4Book snapshot of a busy coin) arrives whole, in chunks; a request nobody answers fails at
 * once (no responders), and one answered too late fails after its timeout.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Requester, respond, type RpcResult } from "../../src/scaleout/rpc.ts";
import { NatsServer, natsTestOptions } from "../_support/nats.ts";
import { waitFor } from "../_support/wait.ts";

Deno.test({
  ...natsTestOptions("a reply over max_payload arrives whole; no responders and timeouts fail the request"),
  async fn() {
    const server = await NatsServer.start();
    const core = await connect({ servers: server.url });
    const edge = await connect({ servers: server.url });
    const requester = new Requester(edge);
    let late: ReturnType<typeof setTimeout> | undefined;
    try {
      const maxPayload = core.info?.max_payload ?? 0;
      assert.ok(maxPayload > 0);
      // Multi-byte characters straddle the chunk boundaries too.
      const big = "é€".repeat(Math.ceil((maxPayload * 3) / 5)) + "end";
      core.subscribe("test.big", { callback: (_e, msg) => respond(core, msg, big) });
      core.subscribe("test.slow", {
        callback: (_e, msg) => {
          late = setTimeout(() => respond(core, msg, "late"), 1500);
        },
      });
      await core.flush();
      const results: Record<string, RpcResult> = {};
      requester.request("test.big", "", 10_000, (result) => (results.big = result));
      requester.request("test.nobody", "", 10_000, (result) => (results.nobody = result));
      requester.request("test.slow", "", 300, (result) => (results.slow = result));
      await waitFor("the three results", () => Object.keys(results).length === 3, 10_000);
      assert.ok(results.big.ok && results.big.text === big, "the big reply arrives whole");
      assert.ok(!results.nobody.ok && /no responders/.test(results.nobody.error));
      assert.ok(!results.slow.ok && /no reply in time/.test(results.slow.error));
    } finally {
      clearTimeout(late);
      requester.close();
      await core.close();
      await edge.close();
      await server.stop();
    }
  },
});
