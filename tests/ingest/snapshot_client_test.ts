import assert from "node:assert/strict";
import {
  loadBooks,
  requestSnapshot,
  requestSnapshotWithRetry,
  SnapshotError,
  snapshotRequest,
} from "../../src/ingest/snapshot_client.ts";
import { tempDir } from "../_support/temp.ts";

const ORDER = {
  coin: "BTC",
  side: "B",
  limitPx: "100.0",
  sz: "1.0",
  oid: 1,
  timestamp: 5,
  triggerCondition: "N/A",
  isTrigger: false,
  triggerPx: "0.0",
  children: [],
  isPositionTpsl: false,
  reduceOnly: false,
  orderType: "Limit",
  origSz: "1.0",
  tif: "Gtc",
  cloid: null,
};

/** A fake info server whose answer each test sets; records the request bodies. */
function infoServer(answer: (body: Record<string, unknown>) => Promise<Response> | Response) {
  const bodies: Record<string, unknown>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const body = await request.json();
    bodies.push(body);
    return answer(body);
  });
  return { server, bodies, url: `http://127.0.0.1:${server.addr.port}/info` };
}

Deno.test("the snapshot client asks the node for an L4 snapshot file", async (t) => {
  await t.step("it posts the fileSnapshot request and reads the file the node wrote", async () => {
    using dir = tempDir();
    const snapshotPath = `${dir.path}/out.json`;
    const { server, bodies, url } = infoServer(async (body) => {
      await Deno.writeTextFile(
        body.outPath as string,
        JSON.stringify([42, [["BTC", [[["0xu", ORDER]], []]]]]),
      );
      return Response.json({});
    });
    try {
      const snapshot = await requestSnapshot({ infoUrl: url, snapshotPath });
      assert.equal(snapshot[0], 42);
      assert.deepEqual(bodies[0], JSON.parse(snapshotRequest(snapshotPath)));
      assert.deepEqual(bodies[0], {
        type: "fileSnapshot",
        request: { type: "l4Snapshots", includeUsers: true, includeTriggerOrders: false },
        outPath: snapshotPath,
        includeHeightInOutput: true,
      });
      const books = await loadBooks(snapshot);
      assert.equal(books.height, 42);
      assert.equal(books.orderCount(), 1);
    } finally {
      await server.shutdown();
    }
  });

  await t.step("garbage in the file is a clear SnapshotError", async () => {
    using dir = tempDir();
    const snapshotPath = `${dir.path}/out.json`;
    const { server, url } = infoServer(async (body) => {
      await Deno.writeTextFile(body.outPath as string, "<html>oops</html>");
      return Response.json({});
    });
    try {
      await assert.rejects(requestSnapshot({ infoUrl: url, snapshotPath }), (error: Error) => {
        assert.ok(error instanceof SnapshotError);
        assert.match(error.message, /out\.json: snapshot must be \[height, books\]/);
        return true;
      });
    } finally {
      await server.shutdown();
    }
  });

  await t.step("an error status is a SnapshotError naming it", async () => {
    using dir = tempDir();
    const { server, url } = infoServer(() => new Response("busy", { status: 503 }));
    try {
      await assert.rejects(
        requestSnapshot({ infoUrl: url, snapshotPath: `${dir.path}/out.json` }),
        /answered 503 to fileSnapshot: busy/,
      );
    } finally {
      await server.shutdown();
    }
  });

  await t.step("a node that does not answer in time is a SnapshotError", async () => {
    using dir = tempDir();
    const never = Promise.withResolvers<Response>();
    const { server, url } = infoServer(() => never.promise);
    try {
      await assert.rejects(
        requestSnapshot({ infoUrl: url, snapshotPath: `${dir.path}/out.json`, timeout: 100 }),
        /no answer within 100 ms/,
      );
    } finally {
      never.resolve(new Response("late"));
      await server.shutdown();
    }
  });

  await t.step("an unreachable node is retried with backoff until it answers", async () => {
    using dir = tempDir();
    const snapshotPath = `${dir.path}/out.json`;
    let calls = 0;
    const { server, url } = infoServer(async (body) => {
      if (++calls < 3) return new Response("starting", { status: 500 });
      await Deno.writeTextFile(body.outPath as string, JSON.stringify([7, []]));
      return Response.json({});
    });
    const failures: SnapshotError[] = [];
    try {
      const snapshot = await requestSnapshotWithRetry({
        infoUrl: url,
        snapshotPath,
        retryDelay: 10,
        onFailure: (error) => failures.push(error),
      });
      assert.equal(snapshot[0], 7);
      assert.equal(failures.length, 2);
    } finally {
      await server.shutdown();
    }
  });

  await t.step("retrying stops when aborted", async () => {
    using dir = tempDir();
    const controller = new AbortController();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const pending = requestSnapshotWithRetry(
      { infoUrl: `http://127.0.0.1:${port}/info`, snapshotPath: `${dir.path}/x.json`, retryDelay: 20 },
      controller.signal,
    );
    setTimeout(() => controller.abort(), 80);
    // The abort itself comes out, not a SnapshotError: the caller stopped, the node did not fail.
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof DOMException, String(error));
      assert.equal(error.name, "AbortError");
      return true;
    });
  });
});
