/**
 * NATS credentials: an edge given a user and password connects to a server that requires them and never
 * prints the password; one given a wrong password says it cannot connect (without the password), stays up
 * and keeps trying (it listens once connected).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Hlbook, ROOT } from "../_support/hlbook.ts";
import { NatsServer, natsTestOptions } from "../_support/nats.ts";
import { Subprocess } from "../_support/process.ts";
import { tempDirs } from "../_support/temp.ts";
import { sleep } from "../_support/wait.ts";

const PASSWORD = "s3cret-pass-word-for-the-test";

Deno.test({
  ...natsTestOptions("NATS credentials reach the server and never a log line; wrong ones are retried"),
  async fn() {
    const server = await NatsServer.start(["--user", "hlbook", "--pass", PASSWORD]);
    const dirs = await tempDirs();
    const nats = (password: string) => [
      "--role=edge",
      `--nats=${server.url}`,
      "--nats-user=hlbook",
      `--nats-password=${password}`,
    ];
    let good: Hlbook | null = null;
    const wrong = new Subprocess(
      [
        "run",
        "--allow-all",
        join(ROOT, "main.ts"),
        "--port=0",
        "--log-format=json",
        ...nats(`${PASSWORD}-x`),
      ],
      { env: { NO_COLOR: "1" } },
    );
    try {
      good = await Hlbook.start({
        dataDir: dirs.data,
        infoUrl: "http://127.0.0.1:9/info",
        snapshotPath: dirs.snapshot,
        extra: nats(PASSWORD),
      });
      await good.process.line(/connected to NATS/, 20_000);
      await wrong.line(/cannot connect to NATS/, 20_000);
      await sleep(2500); // a retry or two
      assert.ok(wrong.alive, "a refused edge stays up");
      for (const lines of [good.lines, wrong.lines]) {
        assert.ok(!lines.some((line) => line.includes(PASSWORD)), lines.join("\n"));
      }
    } finally {
      await good?.close();
      await wrong.stop();
      await server.stop();
      await dirs.remove();
    }
  },
});
