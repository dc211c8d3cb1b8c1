/**
 * The one place that turns CLI flags, `HLBOOK_*` environment variables and defaults into a frozen, typed
 * {@link Config}. Every validation message lives here.
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";

/** hlbook's version, printed by `--version`. */
export const VERSION = "0.1.0";

/** Everything hlbook needs to run, validated. */
export interface Config {
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  readonly infoUrl: string;
  readonly snapshotPath: string;
  readonly logLevel: LogLevel;
  readonly logFormat: "pretty" | "json";
  readonly ingest: "by-block" | "streaming";
  /** Milliseconds between validation snapshots; 0 disables validation. */
  readonly validateInterval: number;
  /** Milliseconds without node output before the feed is reported stale. */
  readonly stallTimeout: number;
  readonly exitOnStall: boolean;
  /** How many blocks to keep for replay after a snapshot. */
  readonly blockCache: number;
  readonly maxBuffered: number;
  readonly maxConnections: number;
  readonly maxSubscriptions: number;
  readonly maxMessageSize: number;
  readonly maxMessagesPerMinute: number;
  /** Milliseconds a forwarded info request may take. */
  readonly infoTimeout: number;
  /** Forwarded info requests in flight at once. */
  readonly infoConcurrency: number;
  /** Largest answer accepted from the node's info server, bytes. */
  readonly infoMaxResponse: number;
  /** Milliseconds `meta`/`spotMeta`/`perpDexs` answers are reused; 0 = not cached. */
  readonly infoCache: number;
  /** Hours of fills backfilled from the node's files at start-up and kept (by fill time). */
  readonly historyHours: number;
  /** Most fills kept per user. */
  readonly fillsPerUser: number;
  /** Most fills kept over all users. */
  readonly maxFills: number;
  /** Candles kept per coin and interval. */
  readonly candlesKept: number;
  readonly maxConnectionsPerIp: number;
  readonly connectionRatePerIp: number;
  readonly maxSubscriptionsPerIp: number;
  readonly maxSubscriptionsTotal: number;
  readonly maxBufferedPerIp: number;
  readonly maxInfoRequestsPerIp: number;
  /** Header the client address is taken from (set by a reverse proxy); "" = the TCP peer. */
  readonly trustProxy: string;
  /** Token required on `/ws` and `POST /info`; "" = none. Never log it. */
  readonly authToken: string;
  /** File holding the token (read at start-up); "" = none. */
  readonly authTokenFile: string;
  /** Milliseconds a request body may take to arrive. */
  readonly handshakeTimeout: number;
  /** `all`: one machine; `core`/`edge`: the two halves of a NATS deployment (docs/scale-out.md). */
  readonly role: "all" | "core" | "edge";
  /** NATS server URLs (one deployment, a cluster's members); required by `core` and `edge`. */
  readonly nats: readonly string[];
  /** NATS credentials file (JWT + nkey seed); "" = none. Never log it. */
  readonly natsCreds: string;
  /** NATS user, password and token; "" = none. Never log them. */
  readonly natsUser: string;
  readonly natsPassword: string;
  readonly natsToken: string;
  /** Milliseconds the stream keeps block outputs (also how far back a client can resume). */
  readonly streamMaxAge: number;
  /** Bytes the stream may hold. */
  readonly streamMaxBytes: number;
  /** Edges serving clients beside the core's worker; 0 = core and edge on one thread. */
  readonly edges: number;
}

/** Log levels accepted by `--log-level`. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** A configuration problem: the message names the flag, the value and what is allowed. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** What `parseConfig` asks the caller to do. */
export type ConfigResult =
  | { readonly kind: "run"; readonly config: Config }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version"; readonly text: string };

type Kind =
  | "string"
  | "port"
  | "url"
  | "path"
  | "duration"
  | "count"
  | "bytes"
  | "bool"
  | "enum"
  | "header"
  | "secret"
  | "credential"
  | "file"
  | "urls";

interface FlagSpec {
  readonly name: string;
  readonly key: keyof Config;
  readonly kind: Kind;
  readonly help: string;
  /** The default as a raw value; `config` holds the flags parsed before this one (the table's order). */
  readonly default: (env: Env, config: Readonly<Record<string, unknown>>) => string;
  /** How `--help` names the default when it depends on other flags. */
  readonly defaultText?: string;
  readonly choices?: readonly string[];
  /** Smallest accepted value for numeric kinds. */
  readonly min?: number;
  readonly max?: number;
  /** Paths: must be absolute. */
  readonly absolute?: boolean;
  /** The flag may be given more than once (its values are joined with commas). */
  readonly multiple?: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

function home(env: Env): string {
  return env.HOME ?? ".";
}

/** `--edges`' default: one edge per core the core worker leaves free, at most 4, at least 1. */
function defaultEdges(): string {
  const cores = typeof navigator === "undefined" ? 2 : navigator.hardwareConcurrency;
  return String(Math.max(1, Math.min(4, cores - 1)));
}

const FLAGS: readonly FlagSpec[] = [
  {
    name: "address",
    key: "address",
    kind: "string",
    help: "address to listen on",
    default: () => "127.0.0.1",
  },
  {
    name: "port",
    key: "port",
    kind: "port",
    help: "port to listen on (0 = any free port)",
    default: () => "8000",
  },
  {
    name: "edges",
    key: "edges",
    kind: "count",
    min: 0,
    max: 64,
    help:
      "threads serving clients on --port (the core, ingest and books run in a worker of their own); 0 = everything on one thread",
    default: defaultEdges,
    defaultText: "min(4, CPU cores − 1), at least 1",
  },
  {
    name: "data-dir",
    key: "dataDir",
    kind: "path",
    help: "the node's data directory holding node_*_by_block/",
    default: (env) => `${home(env)}/hl/data`,
  },
  {
    name: "info-url",
    key: "infoUrl",
    kind: "url",
    help: "the node's info server: asked for L4 snapshots, and answers the info types hlbook forwards",
    default: () => "http://localhost:3001/info",
  },
  {
    name: "snapshot-path",
    key: "snapshotPath",
    kind: "path",
    absolute: true,
    help: "absolute path where the node writes L4 snapshots (must be readable by hlbook)",
    // Next to the data dir, where the node (which writes it) can be expected to have a folder of its own.
    default: (_env, config) => resolve(dirname(resolve(String(config.dataDir))), "hlbook_snapshot.json"),
    defaultText: "hlbook_snapshot.json in the data dir's parent",
  },
  {
    name: "log-level",
    key: "logLevel",
    kind: "enum",
    choices: LOG_LEVELS,
    help: "least severe level logged",
    default: () => "info",
  },
  {
    name: "log-format",
    key: "logFormat",
    kind: "enum",
    choices: ["pretty", "json"],
    help: "pretty for a terminal, json for one JSON object per line",
    default: () => "pretty",
  },
  {
    name: "ingest",
    key: "ingest",
    kind: "enum",
    choices: ["by-block", "streaming"],
    help: "which node files to read: node_*_by_block or node_*_streaming",
    default: () => "by-block",
  },
  {
    name: "validate-interval",
    key: "validateInterval",
    kind: "duration",
    help: "seconds between validation snapshots (0 = never)",
    default: () => "10",
  },
  {
    name: "stall-timeout",
    key: "stallTimeout",
    kind: "duration",
    min: 0.001,
    help: "seconds without node output before the feed is reported stale",
    default: () => "5",
  },
  {
    name: "exit-on-stall",
    key: "exitOnStall",
    kind: "bool",
    help: "exit with code 1 when the node stalls instead of waiting for it",
    default: () => "false",
  },
  {
    name: "block-cache",
    key: "blockCache",
    kind: "count",
    min: 1,
    help: "blocks kept to replay on top of a snapshot",
    default: () => "2000",
  },
  {
    name: "max-buffered",
    key: "maxBuffered",
    kind: "bytes",
    min: 1024,
    help: "bytes a client may have unsent before it is closed with 1008",
    default: () => "4MiB",
  },
  {
    name: "max-connections",
    key: "maxConnections",
    kind: "count",
    min: 1,
    help: "WebSocket connections accepted at once",
    default: () => "10000",
  },
  {
    name: "max-subscriptions",
    key: "maxSubscriptions",
    kind: "count",
    min: 1,
    help: "subscriptions per connection",
    default: () => "1000",
  },
  {
    name: "max-message-size",
    key: "maxMessageSize",
    kind: "bytes",
    min: 64,
    help: "largest inbound client message",
    default: () => "64KiB",
  },
  {
    name: "max-messages-per-minute",
    key: "maxMessagesPerMinute",
    kind: "count",
    min: 1,
    help: "inbound client messages per connection per minute",
    default: () => "2000",
  },
  {
    name: "info-timeout",
    key: "infoTimeout",
    kind: "duration",
    min: 0.001,
    help: "seconds a POST /info request forwarded to the node may take before it is answered 504",
    default: () => "5",
  },
  {
    name: "info-concurrency",
    key: "infoConcurrency",
    kind: "count",
    min: 1,
    help: "info requests forwarded to the node at once; more are answered 429",
    default: () => "64",
  },
  {
    name: "info-max-response",
    key: "infoMaxResponse",
    kind: "bytes",
    min: 1024,
    help: "largest answer accepted from the node's info server in bytes (larger: 502)",
    default: () => "32MiB",
  },
  {
    name: "info-cache",
    key: "infoCache",
    kind: "duration",
    help: "seconds the node's meta, spotMeta and perpDexs answers are reused (0 = never)",
    default: () => "2",
  },
  {
    name: "history-hours",
    key: "historyHours",
    kind: "count",
    min: 0,
    help: "hours of fills read back from the node's files at start-up and kept (0 = no backfill)",
    default: () => "24",
  },
  {
    name: "fills-per-user",
    key: "fillsPerUser",
    kind: "count",
    min: 1,
    help: "fills kept per user (userFills snapshots, userFillsByTime)",
    default: () => "2000",
  },
  {
    name: "max-fills",
    key: "maxFills",
    kind: "count",
    min: 1,
    help: "fills kept over all users (about 400 bytes each)",
    default: () => "1000000",
  },
  {
    name: "candles-kept",
    key: "candlesKept",
    kind: "count",
    min: 1,
    help: "candles kept per coin and interval",
    default: () => "1440",
  },
  {
    name: "max-connections-per-ip",
    key: "maxConnectionsPerIp",
    kind: "count",
    min: 1,
    help: "WebSocket connections one client address (IPv6: its /64) may hold",
    default: () => "200",
  },
  {
    name: "connection-rate-per-ip",
    key: "connectionRatePerIp",
    kind: "count",
    min: 1,
    help:
      "new WebSocket connections one client address may open a second (bursts of twice that); more get 429",
    default: () => "5",
  },
  {
    name: "max-subscriptions-per-ip",
    key: "maxSubscriptionsPerIp",
    kind: "count",
    min: 1,
    help: "subscriptions all connections of one client address may hold together",
    default: () => "2000",
  },
  {
    name: "max-subscriptions-total",
    key: "maxSubscriptionsTotal",
    kind: "count",
    min: 1,
    help: "subscriptions all clients may hold together",
    default: () => "200000",
  },
  {
    name: "max-buffered-per-ip",
    key: "maxBufferedPerIp",
    kind: "bytes",
    min: 1024,
    help:
      "unsent bytes all connections of one client address share (each at most --max-buffered; an l4Book is refused while they are used)",
    default: () => "64MiB",
  },
  {
    name: "max-info-requests-per-ip",
    key: "maxInfoRequestsPerIp",
    kind: "count",
    min: 1,
    help: "POST /info requests one client address may have in flight; more are answered 429",
    default: () => "16",
  },
  {
    name: "trust-proxy",
    defaultText: "none",
    key: "trustProxy",
    kind: "header",
    help:
      "header a reverse proxy puts the client address in, e.g. X-Forwarded-For (last entry); off = TCP peer",
    default: () => "",
  },
  {
    name: "auth-token",
    defaultText: "none",
    key: "authToken",
    kind: "secret",
    help: "token required on /ws and POST /info (?token=… or Authorization: Bearer …)",
    default: () => "",
  },
  {
    name: "auth-token-file",
    defaultText: "none",
    key: "authTokenFile",
    kind: "file",
    help: "file holding the token (first line), instead of --auth-token",
    default: () => "",
  },
  {
    name: "handshake-timeout",
    key: "handshakeTimeout",
    kind: "duration",
    min: 0.001,
    help: "seconds a POST /info request body may take to arrive before the connection is closed",
    default: () => "5",
  },
  {
    name: "role",
    key: "role",
    kind: "enum",
    choices: ["all", "core", "edge"],
    help:
      "all: everything on this machine; core: ingest and books, publishing to --nats; edge: client sockets fed from --nats",
    default: () => "all",
  },
  {
    name: "nats",
    defaultText: "none",
    key: "nats",
    kind: "urls",
    multiple: true,
    help: "NATS server URL for --role core/edge (repeat the flag or separate with commas for a cluster)",
    default: () => "",
  },
  {
    name: "nats-creds",
    defaultText: "none",
    key: "natsCreds",
    kind: "file",
    help: "NATS credentials file (.creds)",
    default: () => "",
  },
  {
    name: "nats-user",
    defaultText: "none",
    key: "natsUser",
    kind: "credential",
    help: "NATS user name (with --nats-password)",
    default: () => "",
  },
  {
    name: "nats-password",
    defaultText: "none",
    key: "natsPassword",
    kind: "credential",
    help: "NATS password (better set by its environment variable)",
    default: () => "",
  },
  {
    name: "nats-token",
    defaultText: "none",
    key: "natsToken",
    kind: "credential",
    help: "NATS token (better set by its environment variable)",
    default: () => "",
  },
  {
    name: "stream-max-age",
    key: "streamMaxAge",
    kind: "duration",
    min: 1,
    help: "seconds the core's NATS stream keeps block outputs (how far back a client can resume)",
    default: () => "3600",
  },
  {
    name: "stream-max-bytes",
    key: "streamMaxBytes",
    kind: "bytes",
    min: 1024 * 1024,
    help: "bytes the core's NATS stream may hold (oldest dropped first)",
    default: () => "4GiB",
  },
];

/** `--port` → `HLBOOK_PORT`. */
function envName(flag: string): string {
  return `HLBOOK_${flag.toUpperCase().replaceAll("-", "_")}`;
}

function fail(flag: string, raw: string, allowed: string): never {
  throw new ConfigError(`--${flag} must be ${allowed}, got ${JSON.stringify(raw)}`);
}

function convert(spec: FlagSpec, raw: string): string | number | boolean | string[] {
  const flag = spec.name;
  switch (spec.kind) {
    case "string":
      if (raw.trim() === "") fail(flag, raw, "a non-empty string");
      return raw;
    case "path":
      if (raw.trim() === "") fail(flag, raw, spec.absolute ? "an absolute path" : "a path");
      if (spec.absolute && !isAbsolute(raw)) fail(flag, raw, "an absolute path (starting with /)");
      return raw;
    case "port": {
      if (!/^\d+$/.test(raw) || Number(raw) > 65535) fail(flag, raw, "0..65535");
      return Number(raw);
    }
    case "url": {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        fail(flag, raw, "an http:// or https:// URL");
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        fail(flag, raw, "an http:// or https:// URL");
      }
      return raw;
    }
    case "duration": {
      const min = spec.min ?? 0;
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n) || n < min) {
        fail(flag, raw, min === 0 ? "a number of seconds ≥ 0" : "a number of seconds > 0");
      }
      return Math.round(n * 1000);
    }
    case "bytes": {
      const min = spec.min ?? 0;
      const bytes = parseByteSize(raw);
      if (bytes === null || bytes < min) {
        fail(flag, raw, `a size ≥ ${formatByteSize(min)} (bytes, or with a unit: 64KiB, 4MiB, 1GiB, 500KB)`);
      }
      return bytes;
    }
    case "count": {
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (
        !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max || !Number.isSafeInteger(Number(raw))
      ) {
        fail(flag, raw, spec.max === undefined ? `a whole number ≥ ${min}` : `${min}..${max}`);
      }
      return Number(raw);
    }
    case "bool":
      if (["true", "1", "yes"].includes(raw)) return true;
      if (["false", "0", "no", ""].includes(raw)) return false;
      return fail(flag, raw, "true or false");
    case "enum":
      if (!spec.choices?.includes(raw)) fail(flag, raw, `one of ${spec.choices?.join(", ")}`);
      return raw;
    case "header":
      if (raw !== "" && !/^[A-Za-z0-9-]+$/.test(raw)) {
        fail(flag, raw, "an HTTP header name such as X-Forwarded-For");
      }
      return raw.toLowerCase();
    case "secret":
      // The value is never echoed: it may be the real token with a typo.
      if (raw !== "" && (raw.length < 16 || !/^[\x21-\x7e]+$/.test(raw))) {
        throw new ConfigError(
          `--${flag} must be at least 16 printable characters without spaces, got ${raw.length} characters`,
        );
      }
      return raw;
    case "credential":
      // Never echoed: a credential with a typo is still a credential.
      if (/[\r\n]/.test(raw)) throw new ConfigError(`--${flag} must be one line`);
      return raw;
    case "file":
      return raw;
    case "urls": {
      const urls = raw.split(",").map((url) => url.trim()).filter((url) => url !== "");
      for (const url of urls) {
        if (!/^(nats|tls|ws|wss):\/\/[^\s/]+/.test(url) && !/^[^\s/:]+:\d+$/.test(url)) {
          fail(flag, url, "a NATS URL such as nats://host:4222 (or host:port)");
        }
      }
      return urls;
    }
  }
}

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
};

/**
 * A byte size as flags take it: `65536`, `64KiB`, `4MiB`, `1GiB` (powers of 1024) or `500KB`, `2MB`, `1GB`
 * (powers of 1000); null when it is not one, or not a whole number of bytes.
 */
export function parseByteSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?$/.exec(text.trim());
  if (match === null) return null;
  const bytes = Number(match[1]) * UNITS[match[2] ?? ""];
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** `4194304` → `4MiB`, `65536` → `64KiB`, `1000` → `1000B`: the largest binary unit that divides exactly. */
export function formatByteSize(bytes: number): string {
  for (const unit of ["GiB", "MiB", "KiB"]) {
    if (bytes > 0 && bytes % UNITS[unit] === 0) return `${bytes / UNITS[unit]}${unit}`;
  }
  return `${bytes}B`;
}

/** The environment variables hlbook reads: one per flag, plus `HOME` for the default paths. */
export function envNames(): string[] {
  return ["HOME", ...FLAGS.map((spec) => envName(spec.name))];
}

/** The `--help` text: every flag with its default and environment variable. */
export function helpText(env: Env = {}): string {
  const lines = [
    `hlbook ${VERSION}: live Hyperliquid order books from a node's files, served over WebSocket.`,
    "",
    "Usage: deno task start [flags]",
    "",
    "Flags (each can also be set with its environment variable; a flag wins over the variable):",
  ];
  for (const spec of FLAGS) {
    const kind = spec.kind === "duration" ? "seconds" : spec.kind === "bytes" ? "size" : spec.kind;
    const value = spec.kind === "bool" ? "" : ` <${kind}>`;
    lines.push(`  --${spec.name}${value}`);
    const choices = spec.choices ? ` (${spec.choices.join("|")})` : "";
    const fallback = spec.defaultText ?? spec.default(env, {});
    lines.push(`      ${spec.help}${choices}; default ${fallback}; env ${envName(spec.name)}`);
  }
  lines.push("  --help       print this help and exit");
  lines.push("  --version    print the version and exit");
  return lines.join("\n");
}

/**
 * Parses CLI arguments and environment variables into a frozen {@link Config}.
 * Throws {@link ConfigError} with a one-line message on any invalid flag, value or variable.
 */
export function parseConfig(args: readonly string[], env: Env = {}): ConfigResult {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
    version: { type: "boolean" },
  };
  for (const spec of FLAGS) {
    options[spec.name] = { type: spec.kind === "bool" ? "boolean" : "string" };
    if (spec.multiple) options[spec.name].multiple = true;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(text);
    if (unknown) throw new ConfigError(`unknown flag ${unknown[1]}; see --help for the flags hlbook accepts`);
    const positional = /Unexpected argument '([^']+)'/.exec(text);
    if (positional) {
      throw new ConfigError(
        `unexpected argument ${JSON.stringify(positional[1])}; hlbook takes only --flags`,
      );
    }
    const flag = /Option '(--[a-z-]+)/.exec(text)?.[1];
    if (flag && /ambiguous/.test(text)) {
      throw new ConfigError(`${flag} needs a value; write ${flag}=VALUE for a value that starts with "-"`);
    }
    if (flag && /missing/.test(text)) throw new ConfigError(`${flag} needs a value; see --help`);
    throw new ConfigError(text.split("\n")[0]);
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (values.help) return { kind: "help", text: helpText(env) };
  if (values.version) return { kind: "version", text: `hlbook ${VERSION}` };
  const config: Record<string, unknown> = {};
  for (const spec of FLAGS) {
    const fromFlag = values[spec.name];
    let raw: string;
    if (fromFlag !== undefined) raw = Array.isArray(fromFlag) ? fromFlag.join(",") : String(fromFlag);
    else if (env[envName(spec.name)] !== undefined) {
      raw = env[envName(spec.name)] as string;
      try {
        config[spec.key] = convert(spec, raw);
      } catch (error) {
        throw new ConfigError(`${(error as Error).message} (from ${envName(spec.name)})`);
      }
      continue;
    } else raw = spec.default(env, config);
    config[spec.key] = convert(spec, raw);
  }
  if (config.authToken !== "" && config.authTokenFile !== "") {
    throw new ConfigError("--auth-token and --auth-token-file both given: set only one");
  }
  if (config.role !== "all" && (config.nats as string[]).length === 0) {
    throw new ConfigError(
      `--role ${config.role} needs --nats URL (the NATS server the core and edges share)`,
    );
  }
  if ((config.natsUser === "") !== (config.natsPassword === "")) {
    throw new ConfigError("--nats-user and --nats-password go together: set both or neither");
  }
  return { kind: "run", config: Object.freeze(config) as unknown as Config };
}
