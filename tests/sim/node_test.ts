import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startSimNode } from "../../src/sim/mod.ts";
import { checkLine, type LineKind } from "./_node_schema.ts";
import { waitFor } from "../_support/wait.ts";

const DIRS: Record<LineKind, string> = {
  fills: "node_fills_by_block",
  diffs: "node_raw_book_diffs_by_block",
  statuses: "node_order_statuses_by_block",
};

async function lines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text.endsWith("\n"), `${path} ends with a complete line`);
  return text.split("\n").filter((l) => l.length > 0);
}

/** Asks the sim node's info server for an l4 snapshot into `outPath` (as the node is asked); the file's text. */
async function fileSnapshot(infoUrl: string | null, outPath: string): Promise<string> {
  const response = await fetch(infoUrl ?? "", {
    method: "POST",
    body: JSON.stringify({
      type: "fileSnapshot",
      request: { type: "l4Snapshots", includeUsers: true, includeTriggerOrders: false },
      outPath,
      includeHeightInOutput: true,
    }),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  return await Deno.readTextFile(outPath);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hlbook-sim-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the info server answers the node's fileSnapshot request from the simulator's book", async (t) => {
  await withTempDir(async (dir) => {
    const node = await startSimNode({
      dataDir: join(dir, "data"),
      infoPort: 0,
      manual: true,
      load: 0.2,
      seed: 4,
    });
    try {
      node.advance(20);
      const outPath = join(dir, "out.json");
      const ask = (body: unknown, path = "/info", method = "POST") =>
        fetch(`http://127.0.0.1:${node.infoPort}${path}`, {
          method,
          headers: { "content-type": "application/json" },
          body: method === "POST" ? (typeof body === "string" ? body : JSON.stringify(body)) : undefined,
        });
      const request = {
        type: "fileSnapshot",
        request: { type: "l4Snapshots", includeUsers: true, includeTriggerOrders: false },
        outPath,
        includeHeightInOutput: true,
      };

      await t.step("the file holds [height, [[coin, [bids, asks]]]] at the last written block", async () => {
        const response = await ask(request);
        assert.equal(response.status, 200);
        await response.body?.cancel();
        const file = JSON.parse(await Deno.readTextFile(outPath));
        assert.equal(file[0], node.height);
        assert.deepEqual(file, JSON.parse(JSON.stringify(node.sim.snapshot())));
        assert.deepEqual(file[1].map(([coin]: [string]) => coin), node.sim.coins());
      });

      await t.step("the snapshot height is the last block whose three lines are written", async () => {
        const day = (await Array.fromAsync(Deno.readDir(join(dir, "data", DIRS.statuses, "hourly"))))[0].name;
        for (const kind of ["fills", "diffs", "statuses"] as const) {
          const files = await Array.fromAsync(Deno.readDir(join(dir, "data", DIRS[kind], "hourly", day)));
          const all = (await Promise.all(files.map((f) =>
            lines(join(dir, "data", DIRS[kind], "hourly", day, f.name))
          )))
            .flat().map((l) => checkLine(kind, l).blockNumber).sort((a, b) => a - b);
          assert.equal(all.at(-1), node.height, kind);
          assert.equal(all.length, 20, `${kind}: one line per block, empty blocks included`);
        }
      });

      await t.step("bad requests get 4xx and leave the server running", async () => {
        for (
          const [body, path, method, status] of [
            ["{not json", "/info", "POST", 400],
            [{ type: "l2Book", coin: "BTC" }, "/info", "POST", 400],
            [{ ...request, request: { type: "other" } }, "/info", "POST", 400],
            [{ ...request, outPath: "relative/out.json" }, "/info", "POST", 400],
            [request, "/other", "POST", 404],
            [null, "/info", "GET", 405],
          ] as const
        ) {
          const response = await ask(body, path, method);
          assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)}`);
          await response.body?.cancel();
        }
        const again = await ask(request);
        assert.equal(again.status, 200);
        await again.body?.cancel();
      });
    } finally {
      await node.stop();
    }
  });
});

Deno.test("hourly files rotate by the node's local time, each stream on its own", async () => {
  await withTempDir(async (dir) => {
    const node = await startSimNode({
      dataDir: dir,
      infoPort: null,
      manual: true,
      load: 0.05,
      startTime: Date.UTC(2026, 4, 5, 17, 59, 58),
    });
    try {
      node.advance(60); // 4 simulated seconds at 15 blocks/s: crosses 18:00
    } finally {
      await node.stop();
    }
    for (const kind of ["fills", "diffs", "statuses"] as const) {
      const base = join(dir, DIRS[kind], "hourly", "20260505");
      const before = (await lines(join(base, "17"))).map((l) => checkLine(kind, l));
      const after = (await lines(join(base, "18"))).map((l) => checkLine(kind, l));
      assert.ok(before.length > 0 && after.length > 0, `${kind} has lines in both hours`);
      for (const l of before) assert.ok(l.localTime.startsWith("2026-05-05T17:"), l.localTime);
      for (const l of after) assert.ok(l.localTime.startsWith("2026-05-05T18:"), l.localTime);
      const heights = [...before, ...after].map((l) => l.blockNumber);
      heights.forEach((h, i) => assert.equal(h, heights[0] + i, "consecutive blocks across the rotation"));
      assert.equal(heights.length, 60);
    }
  });
});

Deno.test("the streaming files hold the same events, one per line", async () => {
  await withTempDir(async (dir) => {
    const byBlock = new Map<number, Record<LineKind, unknown[]>>();
    const node = await startSimNode({
      dataDir: dir,
      infoPort: null,
      manual: true,
      load: 0.1,
      streaming: true,
      startTime: Date.UTC(2026, 4, 5, 10),
      onBlock: (b) =>
        byBlock.set(b.height, { fills: [...b.fills], diffs: [...b.diffs], statuses: [...b.statuses] }),
    });
    try {
      node.advance(30);
    } finally {
      await node.stop();
    }
    for (const kind of ["fills", "diffs", "statuses"] as const) {
      const path = join(dir, DIRS[kind].replace("by_block", "streaming"), "hourly", "20260505", "10");
      const got = new Map<number, unknown[]>();
      for (const text of await lines(path)) {
        const line = checkLine(kind, text, false);
        assert.equal(line.events.length, 1);
        got.set(line.blockNumber, [...(got.get(line.blockNumber) ?? []), ...line.events]);
      }
      for (const [height, events] of byBlock) {
        assert.deepEqual(
          got.get(height) ?? [],
          JSON.parse(JSON.stringify(events[kind])),
          `${kind} ${height}`,
        );
      }
    }
  });
});

Deno.test("on a timer the node writes blocks at its rate and stops cleanly", async () => {
  await withTempDir(async (dir) => {
    const node = await startSimNode({ dataDir: dir, infoPort: 0, rate: 40, load: 0.05 });
    const start = node.height;
    try {
      await waitFor("8 blocks at 40 blocks/s", () => node.height >= start + 8, 5000);
    } finally {
      await node.stop();
    }
    const stopped = node.height;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(node.height, stopped, "no block after stop()");
  });
});

Deno.test("deno task sim's CLI runs for --duration and exits 0; bad flags exit 2", async () => {
  const cli = fileURLToPath(new URL("../../src/sim/cli.ts", import.meta.url));
  // the permissions `deno task sim` grants, so a CLI needing more fails here
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const simTaskFlags = String(config.tasks.sim).split(/\s+/).filter((word) => word.startsWith("--allow-"));
  await withTempDir(async (dir) => {
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...simTaskFlags, cli, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const ok = await run([
      "--data-dir",
      dir,
      "--info-port",
      "0",
      "--duration",
      "0.5",
      "--rate",
      "30",
      "--load",
      "0.05",
    ]);
    const out = new TextDecoder().decode(ok.stdout);
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    assert.match(out, /data dir: .*hlbook-sim-test-/);
    assert.match(out, /info url: http:\/\/127\.0\.0\.1:\d+\/info/);
    const day = (await Array.fromAsync(Deno.readDir(join(dir, DIRS.statuses, "hourly"))))[0].name;
    assert.ok(day.length === 8);
    const bad = await run(["--rate", "fast"]);
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /--rate/);
  });
});

Deno.test("staggered writes leave half lines in between, yet every snapshot is at a fully written block", async () => {
  await withTempDir(async (dir) => {
    const truth = new Map<number, string>();
    const node = await startSimNode({
      dataDir: join(dir, "data"),
      infoPort: 0,
      rate: 30,
      load: 0.1,
      stagger: true,
      staggerMs: 4,
      startTime: Date.UTC(2026, 4, 5, 10),
      onBlock: (block, sim) => truth.set(block.height, JSON.stringify(sim.snapshot())),
    });
    const start = node.height;
    truth.set(start, JSON.stringify(node.sim.snapshot()));
    const base = join(dir, "data");
    const answered: number[] = [];
    let halfLineSeen = false;
    try {
      const deadline = Date.now() + 10_000;
      while (answered.length < 4 && Date.now() < deadline) {
        const outPath = join(dir, `out${answered.length}.json`);
        const text = await fileSnapshot(node.infoUrl, outPath);
        const height = JSON.parse(text)[0];
        assert.equal(text, truth.get(height), `snapshot at ${height} is the simulator's book at ${height}`);
        for (const kind of ["fills", "diffs", "statuses"] as const) {
          if (height === start) break; // the initial book: no block written yet
          const content = await Deno.readTextFile(join(base, DIRS[kind], "hourly", "20260505", "10"));
          if (!content.endsWith("\n")) halfLineSeen = true;
          const complete = content.slice(0, content.lastIndexOf("\n")).split("\n");
          const heights = complete.map((l) => checkLine(kind, l).blockNumber);
          assert.ok(heights.includes(height), `${kind} has the complete line of block ${height}`);
        }
        answered.push(height);
        await new Promise((r) => setTimeout(r, 37));
      }
      const until = Date.now() + 5000;
      while (!halfLineSeen && Date.now() < until) {
        for (const kind of ["fills", "diffs", "statuses"] as const) {
          const content = await Deno.readTextFile(join(base, DIRS[kind], "hourly", "20260505", "10"));
          if (!content.endsWith("\n")) halfLineSeen = true;
        }
      }
    } finally {
      await node.stop();
    }
    assert.ok(answered.length >= 4, "snapshots answered while the node runs");
    assert.ok(halfLineSeen, "a reader can observe a half-written line");
    for (const kind of ["fills", "diffs", "statuses"] as const) {
      const all = await lines(join(base, DIRS[kind], "hourly", "20260505", "10"));
      all.forEach((l, i) =>
        assert.equal(checkLine(kind, l).blockNumber, all.length ? checkLine(kind, all[0]).blockNumber + i : 0)
      );
    }
  });
});

Deno.test("with a snapshot delay the served snapshot lags the files' head, as a busy node's does", async () => {
  await withTempDir(async (dir) => {
    const truth = new Map<number, string>();
    const node = await startSimNode({
      dataDir: join(dir, "data"),
      infoPort: 0,
      rate: 40,
      load: 0.05,
      snapshotDelayMs: 400,
      onBlock: (block, sim) => truth.set(block.height, JSON.stringify(sim.snapshot())),
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const outPath = join(dir, "out.json");
      const text = await fileSnapshot(node.infoUrl, outPath);
      const height = JSON.parse(text)[0];
      assert.ok(height < node.height, `snapshot ${height} behind head ${node.height}`);
      assert.equal(text, truth.get(height));
    } finally {
      await node.stop();
    }
  });
});
