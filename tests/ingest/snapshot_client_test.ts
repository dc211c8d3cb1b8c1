import assert from "node:assert/strict";
import { Books, compareBooks } from "../../src/book/mod.ts";
import {
  loadSnapshotFile,
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
      const books = await requestSnapshot({ infoUrl: url, snapshotPath });
      assert.deepEqual(bodies[0], JSON.parse(snapshotRequest(snapshotPath)));
      assert.deepEqual(bodies[0], {
        type: "fileSnapshot",
        request: { type: "l4Snapshots", includeUsers: true, includeTriggerOrders: false },
        outPath: snapshotPath,
        includeHeightInOutput: true,
      });
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
      const books = await requestSnapshotWithRetry({
        infoUrl: url,
        snapshotPath,
        retryDelay: 10,
        onFailure: (error) => failures.push(error),
      });
      assert.equal(books.height, 7);
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

Deno.test("the snapshot file is loaded as it streams", async (t) => {
  const orders = (coin: string, side: "B" | "A", count: number, base: number) =>
    Array.from({ length: count }, (_, i) => [
      `0x${(i % 97).toString(16).padStart(40, "0")}`,
      { ...ORDER, coin, side, oid: base + i, limitPx: `${side === "B" ? 100 - (i % 50) : 101 + (i % 50)}.0` },
    ]);
  const file = [
    77,
    [
      ["BTC", [orders("BTC", "B", 9000, 1), orders("BTC", "A", 8000, 100_000)]],
      ["@107", [[], orders("@107", "A", 3, 200_000)]],
      ["ETH", [orders("ETH", "B", 1, 300_000), []]],
    ],
  ];
  await t.step("a file of many chunks loads the same books as the parsed file", async () => {
    using dir = tempDir();
    const path = `${dir.path}/snap.json`;
    await Deno.writeTextFile(path, JSON.stringify(file));
    assert.ok((await Deno.stat(path)).size > 2 * (1 << 20), "the file spans several read chunks");
    const books = await loadSnapshotFile(path, { sliceMs: 1 });
    const expected = Books.fromSnapshot(JSON.parse(JSON.stringify(file)));
    assert.equal(books.height, 77);
    assert.equal(books.orderCount(), 17_004);
    assert.equal(compareBooks(expected, books), null);
    assert.deepEqual(books.l4("BTC"), expected.l4("BTC"));
  });
  await t.step("a file that does not load (an oid twice) is a SnapshotError", async () => {
    using dir = tempDir();
    const path = `${dir.path}/snap.json`;
    const twice = [5, [["BTC", [[["0xu", { ...ORDER, oid: 1 }], ["0xv", { ...ORDER, oid: 1 }]], []]]]];
    await Deno.writeTextFile(path, JSON.stringify(twice));
    await assert.rejects(loadSnapshotFile(path), (error: Error) => {
      assert.ok(error instanceof SnapshotError);
      assert.match(error.message, /snap\.json: coin BTC: oid 1 appears twice/);
      return true;
    });
  });
  await t.step("a missing file is a SnapshotError of kind file", async () => {
    using dir = tempDir();
    await assert.rejects(loadSnapshotFile(`${dir.path}/none.json`), (error: Error) => {
      assert.ok(error instanceof SnapshotError);
      assert.equal(error.kind, "file");
      return true;
    });
  });
});
