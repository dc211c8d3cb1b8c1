/**
 * What an operator sees when something is wrong at start-up: the real `main.ts` as a subprocess, its output
 * read as a person would read it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Subprocess } from "../_support/process.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ESC = "\u001b[";

/** A loopback port nothing listens on (the kernel picked it, then it was closed). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** main.ts with `args`, its output collected line by line. */
function startMain(args: string[], env: Record<string, string> = {}): Subprocess {
  return new Subprocess(["run", "--allow-all", MAIN, ...args], { env });
}

Deno.test("a busy port is one line and exit code 2", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, `--port=${port}`, "--data-dir=/nonexistent"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    assert.equal(output.code, 2);
    assert.equal(
      new TextDecoder().decode(output.stderr),
      `hlbook: --port ${port}: address 127.0.0.1:${port} is already in use\n`,
    );
    assert.equal(new TextDecoder().decode(output.stdout), "");
  } finally {
    busy.close();
  }
});

Deno.test("no node files and no node: said once, reminded, re-checked, and in /health", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hlbook-startup-" });
  const dataDir = join(dir, "data");
  const info = closedPort();
  const run = startMain([
    "--port=0",
    `--data-dir=${dataDir}`,
    `--info-url=http://127.0.0.1:${info}/info`,
    "--log-format=pretty",
  ]);
  try {
    const listening = await run.line(/listening on /, 30_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/) \(WebSocket at (ws:\/\/127\.0\.0\.1:\d+\/ws)\)$/
      .exec(listening);
    assert.ok(url, `a copyable URL in: ${listening}`);
    const missing = await run.line(/--data-dir .* does not exist/, 10_000);
    assert.ok(missing.includes(`--data-dir ${dataDir} does not exist.`), missing);
    assert.match(
      missing,
      /node_order_statuses_by_block\/, node_raw_book_diffs_by_block\/ and node_fills_by_block\//,
    );
    assert.match(missing, /--write-order-statuses --write-raw-book-diffs --write-fills --batch-by-block/);

    const first = await run.line(/snapshot failed, retrying/, 10_000);
    assert.match(first, new RegExp(`127\\.0\\.0\\.1:${info}/info unreachable`));
    const health = await fetch(`${url[1]}health`);
    assert.equal(health.status, 503);
    const body = await health.json();
    assert.equal(body.ready, false);
    assert.equal(body.phase, "starting");
    assert.match(
      body.reason,
      /^no snapshot yet: info server unreachable \(\d+ tr(y|ies)\); --data-dir .* does not exist$/,
    );
    assert.equal(body.blockTime, null);
    for (const field of ["stale", "height", "lagMs", "clients", "subscriptions", "version"]) {
      assert.ok(field in body, `/health keeps ${field}`);
    }

    await Deno.mkdir(join(dataDir, "node_order_statuses_by_block"), { recursive: true });
    await Deno.mkdir(join(dataDir, "node_raw_book_diffs_by_block"), { recursive: true });
    await run.line(new RegExp(`node files found in ${dataDir}: following them`), 10_000);
    const reminder = await run.line(/still no snapshot after \d+ tries, retrying: /, 20_000);
    assert.match(reminder, /unreachable/);

    assert.equal(run.matching(/does not exist/).length, 1, "the missing data dir is said once");
    assert.equal(run.matching(/snapshot failed, retrying/).length, 1);
    assert.deepEqual(run.lines.filter((line) => line.includes(ESC)), [], "no colours when not on a terminal");
  } finally {
    await run.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs main.ts under a pseudo-terminal (`script`) for a moment and returns what it printed. */
async function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const command = [Deno.execPath(), "run", "--allow-all", MAIN, ...args].map((a) => `'${a}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qefc", `timeout -s INT 4 ${command}`, "/dev/null"],
    env: { ...env, TERM: "xterm" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  });
  const output = await child.output();
  return new TextDecoder().decode(output.stdout);
}

const hasScript = (() => {
  try {
    return Deno.statSync("/usr/bin/script").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "colours only on a terminal, never with NO_COLOR or --log-format json",
  ignore: !hasScript,
  async fn() {
    const args = ["--port=0", "--data-dir=/nonexistent", `--info-url=http://127.0.0.1:${closedPort()}/info`];
    const [pretty, noColor, json] = await Promise.all([
      onTerminal(args, {}),
      onTerminal(args, { NO_COLOR: "1" }),
      onTerminal([...args, "--log-format=json"], {}),
    ]);
    assert.match(pretty, /listening on/);
    assert.ok(pretty.includes(ESC), "colours on a terminal");
    assert.match(noColor, /listening on/);
    assert.ok(!noColor.includes(ESC), "NO_COLOR turns colours off");
    assert.match(json, /"message":"hlbook listening on http:\/\/127\.0\.0\.1:\d+\/ \(WebSocket at ws:/);
    assert.ok(!json.includes(ESC), "JSON lines have no colours");
  },
});
