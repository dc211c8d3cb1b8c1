/**
 * Limits for a public deployment, so one client address cannot starve the others: per-address connection and
 * subscription budgets, a per-address rate of new connections, a global subscription budget, the l4Book
 * snapshot budget counted per address (a mainnet BTC snapshot is ~16 MB and every connection buffers its own
 * copy: 200 connections of one address subscribing to it would queue 3 GB), an optional auth token, and the
 * client address taken from a trusted proxy header.
 *
 * Addresses are grouped as an attacker would spread them: an IPv4 address is one group, IPv6 addresses by their
 * /64 prefix (one host usually owns a whole /64), IPv4-mapped IPv6 as the IPv4 address.
 *
 * The connection rate is what keeps a burst cheap for everyone else: hlbook writes an accepted connection that
 * does not read its snapshots and updates until the kernel's socket buffers are full (~2.5 MB a connection on
 * loopback, l4Book included) before the per-address share of unsent bytes even starts to count, so 200 such
 * connections opened at once cost ~500 MB of copying within two seconds, on the thread that serves everyone.
 * With a bucket of `2 × connectionRatePerIp` refilling at `connectionRatePerIp` a second, an address's
 * connections arrive spread out however fast it tries; the cap on connections it holds is unchanged.
 *
 * Every refusal counts in a metric; a log line is written at most once per address per minute (with how many
 * refusals it stands for), so a flood cannot flood the log. The token is never logged.
 *
 * @module
 */
import type { Client, ClientLimits, ServedFeed, Subscription, SubscriptionGate } from "../feed/mod.ts";
import { logger } from "../log.ts";
import type { Counter, Gauge, Metrics } from "../metrics.ts";

const log = logger("server");

/** The limits of {@link Guard}; 0 or "" turn a limit off (the defaults of config.ts are on). */
export interface GuardOptions {
  /** WebSocket connections one address may hold. */
  readonly maxConnectionsPerIp: number;
  /** New WebSocket connections one address may open a second, in bursts of twice that (a token bucket); 0 = any. */
  readonly connectionRatePerIp: number;
  /** Subscriptions all connections of one address may hold together. */
  readonly maxSubscriptionsPerIp: number;
  /** Subscriptions all clients may hold together. */
  readonly maxSubscriptionsTotal: number;
  /**
   * Unsent bytes all connections of one address may have together: each connection's `maxBuffered` is at most
   * an equal share of it (never below {@link MIN_SHARE}), and an l4Book subscription is refused while the
   * address's unsent bytes and pending snapshots would pass it (the first one always fits).
   */
  readonly maxBufferedPerIp: number;
  /**
   * `POST /info` requests one address may have in flight (an answer the node computes can take seconds: one
   * address must not hold every slot of `--info-concurrency`); 0 = no limit, absent = 16.
   */
  readonly maxInfoRequestsPerIp?: number;
  /** Header naming the client address (set by a reverse proxy), e.g. `X-Forwarded-For`; "" = the peer. */
  readonly trustProxy: string;
  /** Required on `/ws` and `POST /info` (query `token=` or `Authorization: Bearer`); "" = none. */
  readonly authToken: string;
}

/** A full connection-rate bucket holds this many seconds of the rate. */
const BURST_SECONDS = 2;
/** Addresses whose connection-rate bucket is remembered; past this, full buckets (which say nothing) are dropped. */
const RATE_MEMORY = 65_536;

/** The smallest per-connection share of `maxBufferedPerIp`: a few l2Book messages. */
export const MIN_SHARE = 64 * 1024;

/**
 * An address may start `maxBufferedPerIp` bytes of l4Book snapshots per this window: their cost is mostly the
 * copy each connection makes, which the kernel's socket buffers hide from `bufferedAmount` on a fast link.
 */
const SNAPSHOT_WINDOW_MS = 10_000;

/** How long one address stays quiet in the log after a line about it. */
const LOG_EVERY_MS = 60_000;
/** Addresses remembered for log throttling; past this, stale entries are dropped. */
const LOG_MEMORY = 10_000;

/** One address group's usage. */
class Usage {
  /** False for loopback peers, which no per-address limit applies to (see {@link Guard.connect}). */
  constructor(readonly limited: boolean) {}
  connections = 0;
  subscriptions = 0;
  /** `POST /info` requests in flight. */
  requests = 0;
  /** l4Book snapshot bytes started recently, draining at {@link SNAPSHOT_WINDOW_MS} per budget (a leaky bucket). */
  snapshotBytes = 0;
  snapshotAt = 0;
  /** Feed clients of this address holding subscriptions → how many (for the snapshot budget). */
  readonly clients = new Map<Client, number>();
  get idle(): boolean {
    return this.connections === 0 && this.subscriptions === 0 && this.requests === 0;
  }
}

/** A WebSocket connection admitted by {@link Guard.connect}: give the feed `limits(…)`, `release()` once on close. */
export interface Lease {
  readonly address: string;
  readonly gate: SubscriptionGate;
  /**
   * The connection's limits for the feed: `maxBuffered` is the address's current share (it shrinks as the
   * address opens connections, so 200 slow connections of one address hold `maxBufferedPerIp`, not 200 × 4 MiB).
   */
  limits(maxSubscriptions: number, maxBuffered: number): ClientLimits;
  release(): void;
}

/** Why a request was refused, as the HTTP reply to give. */
export interface Refusal {
  readonly status: number;
  readonly error: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The per-address and global budgets, auth and address resolution of one server. */
export class Guard {
  readonly #options: GuardOptions;
  readonly #feed: ServedFeed;
  readonly #usage = new Map<string, Usage>();
  #subscriptions = 0;
  readonly #tokenBytes: Uint8Array | null;
  /** Address → when it was last logged and how many refusals happened since. */
  readonly #logged = new Map<string, { at: number; since: number }>();
  readonly #refused: Record<RefusalKind, Counter>;
  readonly #addresses: Gauge;
  /** The one reply to every upgrade over the per-address cap (a flood allocates nothing per refusal). */
  readonly #overConnections: Refusal;
  /** The one reply to every upgrade over the per-address connection rate. */
  readonly #overRate: Refusal;
  /**
   * Address → its connection-rate bucket: tokens left when last counted. Kept apart from the usage, which is
   * forgotten as soon as an address holds nothing: a bucket must outlive the connections it refused.
   */
  readonly #rates = new Map<string, { tokens: number; at: number }>();
  /** When full buckets were last dropped (at most once a second, so many addresses cannot make it costly). */
  #ratesPrunedAt = 0;

  constructor(options: GuardOptions, feed: ServedFeed, metrics: Metrics) {
    this.#options = options;
    this.#feed = feed;
    this.#tokenBytes = options.authToken === "" ? null : new TextEncoder().encode(options.authToken);
    const counter = (kind: RefusalKind, help: string) =>
      metrics.counter(`hlbook_refused_${kind}_total`, help);
    this.#refused = {
      connections_per_ip: counter(
        "connections_per_ip",
        "WebSocket upgrades refused (429) because the address held --max-connections-per-ip",
      ),
      subscriptions_per_ip: counter(
        "subscriptions_per_ip",
        "subscriptions refused because the address held --max-subscriptions-per-ip",
      ),
      subscriptions_total: counter(
        "subscriptions_total",
        "subscriptions refused because all clients held --max-subscriptions-total",
      ),
      buffered_per_ip: counter(
        "buffered_per_ip",
        "l4Book subscriptions refused because the address had --max-buffered-per-ip of snapshots unsent or started in 10 s",
      ),
      connection_rate_per_ip: counter(
        "connection_rate_per_ip",
        "WebSocket upgrades refused (429) because the address opened more than --connection-rate-per-ip a second",
      ),
      auth: counter("auth", "requests refused (401) for a missing or wrong --auth-token"),
      info_requests_per_ip: counter(
        "info_requests_per_ip",
        "POST /info requests refused (429) because the address had --max-info-requests-per-ip in flight",
      ),
      slow_request: counter(
        "slow_request",
        "requests closed (408) because their body did not arrive within --handshake-timeout",
      ),
    };
    this.#overConnections = {
      status: 429,
      error: `too many connections from your address: at most ${options.maxConnectionsPerIp}`,
      headers: { "retry-after": "60" },
    };
    this.#overRate = {
      status: 429,
      error: `too many new connections from your address: at most ${options.connectionRatePerIp} a second`,
      headers: { "retry-after": "1" },
    };
    this.#addresses = metrics.gauge("hlbook_client_addresses", "client addresses (IPv6: /64) connected");
  }

  /** Whether a token is required. */
  get authRequired(): boolean {
    return this.#tokenBytes !== null;
  }

  /**
   * The address group a request comes from: the trusted proxy header's last entry (the one the proxy
   * appended; earlier ones are whatever the client sent) when `trustProxy` is set and it parses, else the peer.
   */
  address(request: Request, peer: string): string {
    const header = this.#options.trustProxy;
    if (header !== "") {
      const value = request.headers.get(header);
      if (value !== null) {
        const last = value.slice(value.lastIndexOf(",") + 1);
        const key = addressKey(last);
        if (key !== null) return key;
      }
    }
    return addressKey(peer) ?? peer;
  }

  /** Null when the request carries the token (or none is required), else the 401 to answer. */
  authorize(request: Request, url: URL, address: string): Refusal | null {
    const expected = this.#tokenBytes;
    if (expected === null) return null;
    let given = url.searchParams.get("token");
    if (given === null) {
      const auth = request.headers.get("authorization");
      if (auth !== null && /^bearer\s+/i.test(auth)) given = auth.replace(/^bearer\s+/i, "").trim();
    }
    if (given !== null && sameBytes(new TextEncoder().encode(given), expected)) return null;
    this.#refuse("auth", address, given === null ? "no auth token" : "a wrong auth token");
    return {
      status: 401,
      error: "an auth token is required: add ?token=… to the URL or send Authorization: Bearer …",
      headers: { "www-authenticate": 'Bearer realm="hlbook"' },
    };
  }

  /**
   * Admits a WebSocket connection of `address`, or says why not (429): over the connections it may hold, or
   * over its rate of new ones. Loopback peers are not limited per address: on loopback the address tells no
   * clients apart (local tools, benchmarks, a proxy on the same host — which is why a proxy must pass the
   * client address with `trustProxy`).
   */
  connect(address: string, now = Date.now()): Lease | Refusal {
    const max = this.#options.maxConnectionsPerIp;
    const usage = this.#usage.get(address);
    if (max > 0 && usage !== undefined && usage.limited && usage.connections >= max) {
      this.#refuse("connections_per_ip", address, `over ${max} connections`);
      return this.#overConnections;
    }
    const limited = usage?.limited ?? !isLoopback(address);
    if (limited && !this.#takeConnectionToken(address, now)) {
      this.#refuse(
        "connection_rate_per_ip",
        address,
        `over ${this.#options.connectionRatePerIp} new connections a second`,
      );
      return this.#overRate;
    }
    const own = usage ?? this.#add(address);
    own.connections++;
    let released = false;
    const gate: SubscriptionGate = {
      admit: (client, subscription) => this.#admit(address, own, client, subscription),
      release: (client) => {
        own.subscriptions--;
        this.#subscriptions--;
        const held = (own.clients.get(client) ?? 1) - 1;
        if (held > 0) own.clients.set(client, held);
        else own.clients.delete(client);
        this.#forgetIfIdle(address, own);
      },
    };
    const perIp = this.#options.maxBufferedPerIp;
    return {
      address,
      gate,
      limits: (maxSubscriptions, maxBuffered) => ({
        maxSubscriptions,
        gate,
        get maxBuffered() {
          if (!own.limited || perIp <= 0 || own.connections <= 1) return maxBuffered;
          return Math.min(maxBuffered, Math.max(MIN_SHARE, Math.floor(perIp / own.connections)));
        },
      }),
      release: () => {
        if (released) return;
        released = true;
        own.connections--;
        this.#forgetIfIdle(address, own);
      },
    };
  }

  /** Admits a `POST /info` request of `address` (429 when it has its maximum in flight); `release()` when answered. */
  infoRequest(address: string): { release(): void } | Refusal {
    const max = this.#options.maxInfoRequestsPerIp ?? 16;
    const usage = this.#usage.get(address) ?? this.#add(address);
    if (max > 0 && usage.limited && usage.requests >= max) {
      this.#refuse("info_requests_per_ip", address, `over ${max} info requests in flight`);
      this.#forgetIfIdle(address, usage);
      return {
        status: 429,
        error: `too many info requests in flight from your address: at most ${max}`,
        headers: { "retry-after": "1" },
      };
    }
    usage.requests++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        usage.requests--;
        this.#forgetIfIdle(address, usage);
      },
    };
  }

  /** A request body that did not arrive in time: counted and logged like a refusal. */
  slowRequest(address: string, ms: number): void {
    this.#refuse("slow_request", address, `a request body not complete after ${ms} ms`);
  }

  /** Usage of one address group (tests, `/health`). */
  usage(address: string): { connections: number; subscriptions: number } {
    const usage = this.#usage.get(address);
    return { connections: usage?.connections ?? 0, subscriptions: usage?.subscriptions ?? 0 };
  }

  /** Takes one token of `address`'s connection-rate bucket; false when it has none (0 = no limit: true). */
  #takeConnectionToken(address: string, now: number): boolean {
    const rate = this.#options.connectionRatePerIp;
    if (rate <= 0) return true;
    const burst = rate * BURST_SECONDS;
    let bucket = this.#rates.get(address);
    if (bucket === undefined) {
      if (this.#rates.size >= RATE_MEMORY && now - this.#ratesPrunedAt >= 1000) {
        this.#ratesPrunedAt = now;
        for (const [key, value] of this.#rates) {
          if (value.tokens + ((now - value.at) * rate) / 1000 >= burst) this.#rates.delete(key);
        }
        // Many addresses each opening connections: each stays under the cap it holds; nothing to remember.
        if (this.#rates.size >= RATE_MEMORY) return true;
      }
      bucket = { tokens: burst, at: now };
      this.#rates.set(address, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) * rate) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  #add(address: string): Usage {
    const usage = new Usage(!isLoopback(address));
    this.#usage.set(address, usage);
    this.#addresses.set(this.#usage.size);
    return usage;
  }

  #forgetIfIdle(address: string, usage: Usage): void {
    if (!usage.idle || this.#usage.get(address) !== usage) return;
    this.#usage.delete(address);
    this.#addresses.set(this.#usage.size);
  }

  #admit(address: string, usage: Usage, client: Client, subscription: Subscription): string | null {
    const perIp = usage.limited ? this.#options.maxSubscriptionsPerIp : 0;
    if (perIp > 0 && usage.subscriptions >= perIp) {
      this.#refuse("subscriptions_per_ip", address, `over ${perIp} subscriptions`);
      return `too many subscriptions from your address: at most ${perIp}`;
    }
    const total = this.#options.maxSubscriptionsTotal;
    if (total > 0 && this.#subscriptions >= total) {
      this.#refuse("subscriptions_total", address, `a subscription over the server's ${total}`);
      return `the server holds its maximum of ${total} subscriptions: retry later`;
    }
    const budget = usage.limited ? this.#options.maxBufferedPerIp : 0;
    if (subscription.type === "l4Book" && budget > 0) {
      let unsent = 0;
      for (const other of usage.clients.keys()) unsent += this.#feed.unsentEstimate(other);
      if (!usage.clients.has(client)) unsent += this.#feed.unsentEstimate(client);
      const next = this.#feed.l4SnapshotSize(subscription.coin);
      if (unsent > 0 && unsent + next > budget) {
        this.#refuse("buffered_per_ip", address, `${unsent} bytes unsent, budget ${budget}`);
        return `your address has ${unsent} bytes of snapshots unsent (at most ${budget}): retry when they are read`;
      }
      const now = Date.now();
      usage.snapshotBytes = Math.max(
        0,
        usage.snapshotBytes - ((now - usage.snapshotAt) * budget) / SNAPSHOT_WINDOW_MS,
      );
      usage.snapshotAt = now;
      if (usage.snapshotBytes > 0 && usage.snapshotBytes + next > budget) {
        this.#refuse(
          "buffered_per_ip",
          address,
          `${Math.round(usage.snapshotBytes)} bytes of snapshots in 10 s`,
        );
        return `your address started ${budget} bytes of l4Book snapshots in the last ${
          SNAPSHOT_WINDOW_MS / 1000
        } s: retry shortly`;
      }
      usage.snapshotBytes += next;
    }
    usage.subscriptions++;
    usage.clients.set(client, (usage.clients.get(client) ?? 0) + 1);
    this.#subscriptions++;
    return null;
  }

  /** Counts a refusal; logs it unless this address was logged less than a minute ago. */
  #refuse(kind: RefusalKind, address: string, what: string): void {
    this.#refused[kind].inc();
    const now = Date.now();
    const entry = this.#logged.get(address);
    if (entry !== undefined && now - entry.at < LOG_EVERY_MS) {
      entry.since++;
      return;
    }
    if (entry === undefined && this.#logged.size >= LOG_MEMORY) {
      for (const [key, value] of this.#logged) if (now - value.at >= LOG_EVERY_MS) this.#logged.delete(key);
      if (this.#logged.size >= LOG_MEMORY) return; // a flood from many addresses: the metrics still count it
    }
    const earlier = entry?.since ?? 0;
    this.#logged.set(address, { at: now, since: 0 });
    log.warn(
      "refused {address}: {what} ({kind}); {suppressed} refusals of it since its previous line (one line a minute at most)",
      { address, what, kind, suppressed: earlier },
    );
  }
}

type RefusalKind =
  | "connections_per_ip"
  | "connection_rate_per_ip"
  | "subscriptions_per_ip"
  | "subscriptions_total"
  | "buffered_per_ip"
  | "auth"
  | "info_requests_per_ip"
  | "slow_request";

/** Compares two byte strings in time that depends only on their lengths. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(1, a.length)] ?? 0) ^ b[i];
  return diff === 0;
}

/** Whether `hostname` (a `--address` value) only accepts local connections. */
export function isLoopback(hostname: string): boolean {
  let s = hostname.trim().toLowerCase();
  if (s === "localhost") return true;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const v4 = ipv4(s);
  if (v4 !== null) return v4[0] === 127;
  const v6 = ipv6(s);
  return v6 !== null && v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1;
}

/**
 * The group key of an IP address text: dotted IPv4 (`1.2.3.4`, also from `::ffff:1.2.3.4` and `1.2.3.4:port`),
 * `::1`, or an IPv6 /64 prefix as `a:b:c:d::/64`; null when it is not an address.
 */
export function addressKey(text: string): string | null {
  let s = text.trim();
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return null;
    s = s.slice(1, end);
  }
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
  if (v4WithPort) s = v4WithPort[1];
  const v4 = ipv4(s);
  if (v4 !== null) return v4.join(".");
  const groups = ipv6(s);
  if (groups === null) return null;
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return "::1";
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

function ipv4(s: string): number[] | null {
  if (!/^\d{1,3}(?:\.\d{1,3}){3}$/.test(s)) return null;
  const parts = s.split(".").map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a trailing dotted IPv4), or null. */
function ipv6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = ipv4(piece);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array(missing).fill(0), ...tail];
}

/**
 * Reads a request body of at most `maxSize` bytes within `timeoutMs`: a body that is too big is refused
 * without reading it all (413), one that trickles in is cut off (408), so a slow or endless upload holds
 * neither memory nor the connection.
 */
export async function readBody(
  request: Request,
  maxSize: number,
  timeoutMs: number,
): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; status: 408 | 413 }> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxSize) return { ok: false, status: 413 };
  const body = request.body;
  if (body === null) return { ok: true, bytes: new Uint8Array(0) };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "late") return { ok: false, status: 408 };
      if (next.done) break;
      size += next.value.byteLength;
      if (size > maxSize) return { ok: false, status: 413 };
      chunks.push(next.value);
    }
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}

/**
 * The auth token to require: `token` itself, or the first line of `file` (an unreadable file or a short token
 * is a start-up error naming the file, never the token).
 */
export async function resolveAuthToken(
  token: string,
  file: string,
): Promise<{ ok: true; token: string } | { ok: false; error: string }> {
  if (file === "") return { ok: true, token };
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    return {
      ok: false,
      error: `--auth-token-file ${JSON.stringify(file)} cannot be read: ${(error as Error).message}`,
    };
  }
  const first = text.split(/\r?\n/, 1)[0].trim();
  if (first.length < 16 || !/^[\x21-\x7e]+$/.test(first)) {
    return {
      ok: false,
      error: `--auth-token-file ${
        JSON.stringify(file)
      } must hold a token of at least 16 printable characters without spaces on its first line, got ${first.length} characters`,
    };
  }
  return { ok: true, token: first };
}
