import assert from "node:assert/strict";
import { type Config, ConfigError, formatByteSize, helpText, parseByteSize, parseConfig } from "../config.ts";

function run(args: string[], env: Record<string, string> = {}): Config {
  const result = parseConfig(args, env);
  assert.equal(result.kind, "run");
  return (result as { config: Config }).config;
}

function rejects(args: string[], pattern: RegExp, env: Record<string, string> = {}): void {
  assert.throws(() => parseConfig(args, env), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("config", async (t) => {
  await t.step("defaults are used when nothing is given", () => {
    const config = run([], { HOME: "/home/op" });
    assert.equal(config.address, "127.0.0.1");
    assert.equal(config.port, 8000);
    assert.equal(config.dataDir, "/home/op/hl/data");
    assert.equal(config.infoUrl, "http://localhost:3001/info");
    assert.equal(config.snapshotPath, "/home/op/hl/hlbook_snapshot.json");
    assert.equal(config.logLevel, "info");
    assert.equal(config.logFormat, "pretty");
    assert.equal(config.ingest, "by-block");
    assert.equal(config.validateInterval, 10_000);
    assert.equal(config.stallTimeout, 5_000);
    assert.equal(config.exitOnStall, false);
    assert.equal(config.maxBuffered, 4 * 1024 * 1024);
    assert.equal(config.maxSubscriptions, 1000);
    assert.equal(config.maxMessageSize, 64 * 1024);
    assert.ok(Object.isFrozen(config));
  });

  await t.step("every flag sets its value", () => {
    const config = run([
      "--address=0.0.0.0",
      "--port",
      "9001",
      "--data-dir",
      "/data",
      "--info-url",
      "http://10.0.0.1:3001/info",
      "--snapshot-path",
      "/tmp/s.json",
      "--log-level",
      "debug",
      "--log-format",
      "json",
      "--ingest",
      "streaming",
      "--validate-interval",
      "2.5",
      "--stall-timeout",
      "1",
      "--exit-on-stall",
      "--block-cache",
      "50",
      "--max-buffered",
      "2048",
      "--max-connections",
      "7",
      "--max-subscriptions",
      "3",
      "--max-message-size",
      "1000",
      "--max-messages-per-minute",
      "60",
      "--info-timeout",
      "0.5",
      "--info-concurrency",
      "4",
      "--info-max-response",
      "4096",
      "--info-cache",
      "0",
      "--history-hours",
      "2",
      "--fills-per-user",
      "10",
      "--max-fills",
      "100",
      "--candles-kept",
      "5",
      "--max-connections-per-ip=5",
      "--connection-rate-per-ip=3",
      "--max-subscriptions-per-ip=50",
      "--max-subscriptions-total=500",
      "--max-buffered-per-ip=4096",
      "--max-info-requests-per-ip=3",
      "--trust-proxy=X-Forwarded-For",
      "--auth-token=0123456789abcdef",
      "--handshake-timeout=2",
      "--role=edge",
      "--nats=nats://a:4222,nats://b:4222",
      "--nats",
      "tls://c:4222",
      "--nats-creds=/n.creds",
      "--nats-user=u",
      "--nats-password=p w",
      "--nats-token=t",
      "--stream-max-age=60",
      "--stream-max-bytes=1GiB",
      "--edges=3",
    ]);
    assert.deepEqual({ ...config }, {
      address: "0.0.0.0",
      port: 9001,
      dataDir: "/data",
      infoUrl: "http://10.0.0.1:3001/info",
      snapshotPath: "/tmp/s.json",
      logLevel: "debug",
      logFormat: "json",
      ingest: "streaming",
      validateInterval: 2500,
      stallTimeout: 1000,
      exitOnStall: true,
      blockCache: 50,
      maxBuffered: 2048,
      maxConnections: 7,
      maxSubscriptions: 3,
      maxMessageSize: 1000,
      maxMessagesPerMinute: 60,
      infoTimeout: 500,
      infoConcurrency: 4,
      infoMaxResponse: 4096,
      infoCache: 0,
      historyHours: 2,
      fillsPerUser: 10,
      maxFills: 100,
      candlesKept: 5,
      maxConnectionsPerIp: 5,
      connectionRatePerIp: 3,
      maxSubscriptionsPerIp: 50,
      maxSubscriptionsTotal: 500,
      maxBufferedPerIp: 4096,
      maxInfoRequestsPerIp: 3,
      trustProxy: "x-forwarded-for",
      authToken: "0123456789abcdef",
      authTokenFile: "",
      handshakeTimeout: 2000,
      role: "edge",
      nats: ["nats://a:4222", "nats://b:4222", "tls://c:4222"],
      natsCreds: "/n.creds",
      natsUser: "u",
      natsPassword: "p w",
      natsToken: "t",
      streamMaxAge: 60_000,
      streamMaxBytes: 1024 ** 3,
      edges: 3,
    });
  });

  await t.step("the NATS roles need a server, and a bad NATS credential is never echoed", () => {
    rejects(["--role=core"], /^--role core needs --nats URL/);
    rejects(["--role=edge", "--nats=http://x"], /^--nats must be a NATS URL such as nats:\/\/host:4222/);
    rejects(["--nats-user=u", "--nats=nats://x:1"], /--nats-user and --nats-password go together/);
    rejects(["--nats-password=a\nsecret"], /^--nats-password must be one line$/);
    assert.deepEqual(run(["--role=core"], { HLBOOK_NATS: "nats://x:1" }).nats, ["nats://x:1"]);
    assert.equal(run([]).role, "all");
  });

  await t.step("auth and proxy flags are checked, and a bad token is never echoed", () => {
    rejects(
      ["--auth-token=short-secret"],
      /^--auth-token must be at least 16 printable characters without spaces, got 12 characters$/,
    );
    rejects(["--auth-token", "has a space in it, long enough"], /got 30 characters$/);
    rejects([], /--auth-token must be .* \(from HLBOOK_AUTH_TOKEN\)$/, { HLBOOK_AUTH_TOKEN: "tiny" });
    rejects(
      ["--auth-token=0123456789abcdef", "--auth-token-file=/t"],
      /--auth-token and --auth-token-file both given/,
    );
    rejects(
      ["--trust-proxy=X Forwarded"],
      /--trust-proxy must be an HTTP header name such as X-Forwarded-For/,
    );
    assert.equal(run([]).trustProxy, "");
    assert.equal(run([]).authToken, "");
    assert.equal(run([]).maxConnectionsPerIp, 200);
    assert.equal(run([]).connectionRatePerIp, 5);
  });

  await t.step("environment variables override defaults and flags override them", () => {
    const env = { HLBOOK_PORT: "7000", HLBOOK_LOG_FORMAT: "json", HLBOOK_EXIT_ON_STALL: "true" };
    const fromEnv = run([], env);
    assert.equal(fromEnv.port, 7000);
    assert.equal(fromEnv.logFormat, "json");
    assert.equal(fromEnv.exitOnStall, true);
    assert.equal(run(["--port", "7001"], env).port, 7001);
  });

  await t.step("each invalid value is named with what is allowed", () => {
    rejects(["--port", "70000"], /^--port must be 0\.\.65535, got "70000"$/);
    rejects(["--edges", "x"], /^--edges must be 0\.\.64, got "x"$/);
    rejects(["--edges=65"], /^--edges must be 0\.\.64, got "65"$/);
    rejects(["--port=-1"], /--port must be 0\.\.65535, got "-1"/);
    rejects(["--port", "-1"], /--port needs a value; write --port=VALUE/);
    rejects(["--port"], /--port needs a value/);
    rejects(["--port", "abc"], /--port must be 0\.\.65535, got "abc"/);
    rejects(
      ["--info-url", "not a url"],
      /--info-url must be an http:\/\/ or https:\/\/ URL, got "not a url"/,
    );
    rejects(["--info-url", "ftp://x/info"], /--info-url must be an http/);
    rejects(["--validate-interval=-3"], /--validate-interval must be a number of seconds ≥ 0, got "-3"/);
    rejects(["--stall-timeout", "0"], /--stall-timeout must be a number of seconds > 0/);
    rejects(["--log-level", "loud"], /--log-level must be one of trace, debug, info, warning, error, fatal/);
    rejects(["--log-format", "xml"], /--log-format must be one of pretty, json/);
    rejects(["--ingest", "both"], /--ingest must be one of by-block, streaming/);
    rejects(["--max-buffered", "10"], /--max-buffered must be a size ≥ 1KiB \(bytes, or with a unit: 64KiB/);
    rejects(["--max-buffered", "4 megs"], /--max-buffered must be a size ≥ 1KiB .*, got "4 megs"/);
    rejects(["--max-message-size", "32B"], /--max-message-size must be a size ≥ 64B/);
    rejects(
      ["--snapshot-path", "snap.json"],
      /^--snapshot-path must be an absolute path \(starting with \/\), got "snap.json"$/,
    );
    rejects(["--max-subscriptions", "1.5"], /--max-subscriptions must be a whole number ≥ 1/);
    rejects(["--address", ""], /--address must be a non-empty string/);
  });

  await t.step("byte sizes take units, as the README writes them", () => {
    for (
      const [text, bytes] of [
        ["4MiB", 4 * 1024 * 1024],
        ["64KiB", 65536],
        ["1GiB", 1024 ** 3],
        ["500KB", 500_000],
        ["2MB", 2_000_000],
        ["1.5KiB", 1536],
        ["4096", 4096],
        ["4096B", 4096],
        ["8 MiB", 8 * 1024 * 1024],
      ] as const
    ) {
      assert.equal(parseByteSize(text), bytes, text);
    }
    for (const bad of ["", "4mb", "MiB", "1.3B", "-1KiB", "4 megs", "1e3"]) {
      assert.equal(parseByteSize(bad), null, bad);
    }
    assert.equal(formatByteSize(4 * 1024 * 1024), "4MiB");
    assert.equal(formatByteSize(65536), "64KiB");
    assert.equal(formatByteSize(1000), "1000B");
    const config = run(["--max-buffered", "4MiB", "--max-message-size=64KiB"]);
    assert.equal(config.maxBuffered, 4 * 1024 * 1024);
    assert.equal(config.maxMessageSize, 64 * 1024);
    assert.equal(run([], { HLBOOK_MAX_BUFFERED: "8MiB" }).maxBuffered, 8 * 1024 * 1024);
    assert.match(helpText(), /--max-buffered <size>\n.*default 4MiB;/);
    assert.match(helpText(), /--max-message-size <size>\n.*default 64KiB;/);
  });

  await t.step("the snapshot path defaults to the data dir's parent", () => {
    assert.equal(run(["--data-dir", "/x/hl/data"]).snapshotPath, "/x/hl/hlbook_snapshot.json");
    assert.equal(run(["--data-dir", "/x/hl/data/"]).snapshotPath, "/x/hl/hlbook_snapshot.json");
    assert.equal(run([], { HOME: "/home/op" }).snapshotPath, "/home/op/hl/hlbook_snapshot.json");
    assert.equal(run(["--data-dir", "rel/data"]).snapshotPath, `${Deno.cwd()}/rel/hlbook_snapshot.json`);
    assert.equal(run(["--data-dir", "/x/data", "--snapshot-path", "/s.json"]).snapshotPath, "/s.json");
    assert.match(
      helpText(),
      /--snapshot-path <path>\n.*default hlbook_snapshot.json in the data dir's parent;/,
    );
  });

  await t.step("an invalid environment variable names the variable", () => {
    rejects([], /--port must be 0\.\.65535, got "x" \(from HLBOOK_PORT\)/, { HLBOOK_PORT: "x" });
  });

  await t.step("unknown flags and positional arguments are rejected", () => {
    rejects(["--nope"], /unknown flag --nope/);
    rejects(["extra"], /unexpected argument "extra"/);
  });

  await t.step("--help lists every flag with its default and variable", () => {
    const result = parseConfig(["--help"], { HOME: "/h" });
    assert.equal(result.kind, "help");
    const text = helpText({ HOME: "/h" });
    for (
      const flag of [
        "address",
        "port",
        "data-dir",
        "info-url",
        "snapshot-path",
        "log-level",
        "log-format",
        "ingest",
        "validate-interval",
        "stall-timeout",
        "exit-on-stall",
        "max-buffered",
        "max-connections",
        "max-subscriptions",
        "max-message-size",
        "max-messages-per-minute",
      ]
    ) {
      assert.match(text, new RegExp(`--${flag}\\b`));
      assert.match(text, new RegExp(`HLBOOK_${flag.toUpperCase().replaceAll("-", "_")}`));
    }
    assert.match(text, /default \/h\/hl\/data/);
    assert.equal(parseConfig(["--version"]).kind, "version");
  });
});

Deno.test("the start task prints help and exits 2 on a bad port", async (t) => {
  const root = new URL("..", import.meta.url);
  async function task(...args: string[]) {
    const command = new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "start", ...args],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    });
    const output = await command.output();
    const decoder = new TextDecoder();
    return { code: output.code, out: decoder.decode(output.stdout), err: decoder.decode(output.stderr) };
  }
  await t.step("--help exits 0 and documents the flags", async () => {
    const { code, out } = await task("--help");
    assert.equal(code, 0);
    assert.match(out, /--data-dir/);
    assert.match(out, /--info-url/);
  });
  await t.step("--port 70000 exits 2 naming --port", async () => {
    const { code, err } = await task("--port", "70000");
    assert.equal(code, 2);
    assert.match(err, /--port must be 0\.\.65535, got "70000"/);
  });
});
