/**
 * Edge leases: which views the edges of a NATS deployment watch, so the core computes only those
 * (docs/scale-out.md).
 *
 * On one machine an edge tells the core "watch K" and "unwatch K" over a reliable channel. Across machines an
 * edge can vanish without a word, so each edge instead keeps one entry in a KV bucket: its whole watched set,
 * rewritten when the set changes and at least every third of the TTL. The core watches the bucket and serves
 * the union of the sets it has heard from within the TTL. Expiry is judged by when the core *received* an
 * entry, on its own clock: the edges' and the server's clocks never enter into it, so skew cannot keep a dead
 * edge's views alive or drop a live one's. A view that leaves the union costs the core nothing from then on.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import { logger } from "../log.ts";

const log = logger("scaleout");

/** Key prefix of the edges' entries in the lease bucket. */
const EDGE_PREFIX = "edge.";

/** What one edge's entry holds. */
interface LeaseValue {
  readonly keys: readonly string[];
}

/** One edge's side: publishes its watched view keys and keeps them alive. */
export class EdgeLease {
  readonly #kv: KV;
  readonly #key: string;
  #keys: readonly string[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;

  /** `edgeId` must be a valid KV key token (letters, digits, `-`, `_`). */
  constructor(kv: KV, edgeId: string, ttlMs: number) {
    if (!/^[A-Za-z0-9_-]+$/.test(edgeId)) {
      throw new RangeError(`edge id must be [A-Za-z0-9_-]+, got "${edgeId}"`);
    }
    this.#kv = kv;
    this.#key = EDGE_PREFIX + edgeId;
    this.#timer = setInterval(() => void this.#write(), Math.max(50, Math.floor(ttlMs / 3)));
  }

  /** Replaces the watched set; written at once (coalesced with a write in flight). */
  set(keys: Iterable<string>): Promise<void> {
    this.#keys = [...new Set(keys)].sort();
    return this.#write();
  }

  #write(): Promise<void> {
    if (this.#timer === null) return this.#writing;
    if (this.#dirty) return this.#writing;
    this.#dirty = true;
    this.#writing = this.#writing.then(async () => {
      this.#dirty = false;
      const value: LeaseValue = { keys: this.#keys };
      try {
        await this.#kv.put(this.#key, JSON.stringify(value));
      } catch (error) {
        // NATS away: the next tick retries; the core drops this edge's views after the TTL meanwhile.
        log.debug("lease write failed: {error}", { error: String(error) });
      }
    });
    return this.#writing;
  }

  /** Stops renewing and removes the entry (on shutdown). */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#writing;
    await this.#kv.delete(this.#key).catch(() => {});
  }
}

/** The core's side: the union of every live edge's watched view keys. */
export class LeaseTable {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #edges = new Map<string, { keys: readonly string[]; at: number }>();

  constructor(ttlMs: number, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** Takes one bucket entry (a put or a delete of an edge's key). Bad entries are ignored with a log line. */
  apply(entry: { key: string; operation: string; string(): string }): void {
    if (!entry.key.startsWith(EDGE_PREFIX)) return;
    const edge = entry.key.slice(EDGE_PREFIX.length);
    if (entry.operation !== "PUT") {
      this.#edges.delete(edge);
      return;
    }
    try {
      const value = JSON.parse(entry.string()) as LeaseValue;
      if (!Array.isArray(value.keys) || !value.keys.every((k) => typeof k === "string")) {
        throw new Error("keys");
      }
      this.#edges.set(edge, { keys: value.keys, at: this.#now() });
    } catch {
      log.warn("ignoring a malformed lease of edge {edge}", { edge });
    }
  }

  /** Edges heard from within the TTL. */
  edges(): string[] {
    this.#expire();
    return [...this.#edges.keys()].sort();
  }

  /** The union of the live edges' watched view keys. */
  watched(): Set<string> {
    this.#expire();
    const all = new Set<string>();
    for (const { keys } of this.#edges.values()) for (const key of keys) all.add(key);
    return all;
  }

  #expire(): void {
    const oldest = this.#now() - this.#ttlMs;
    for (const [edge, lease] of this.#edges) if (lease.at < oldest) this.#edges.delete(edge);
  }

  /** Follows a lease bucket until `signal` aborts: every entry, current ones first, goes to {@link apply}. */
  async follow(kv: KV, signal: AbortSignal): Promise<void> {
    const watch = await kv.watch({ key: `${EDGE_PREFIX}>` });
    const stop = () => watch.stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const entry of watch) this.apply(entry);
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }
}
