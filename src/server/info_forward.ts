/**
 * Forwarding of info requests hlbook does not answer itself to the node's info server (`--info-url`).
 *
 * Why: client libraries load their markets and account state through `POST /info` types that only the node
 * knows (`meta`, `spotMeta`, `perpDexs`, `clearinghouseState`, … about 50 types); relaying them makes hlbook
 * a drop-in `/info`. The client's body goes out byte for byte and the node's status and body come back byte for
 * byte.
 *
 * Bounded, because one slow node must not hang hlbook's clients or hold unbounded memory: every request has a
 * timeout, at most `maxConcurrent` are in flight (more get 429 at once), an answer larger than
 * `maxResponseBytes` is dropped with 502. `meta`, `spotMeta` and `perpDexs` change rarely and every client asks
 * for them at start-up: their 200 answers are kept `cacheMs` and concurrent identical requests share one trip to
 * the node. Nothing per user is cached.
 *
 * Never forwarded: `fileSnapshot` and any request naming an `outPath` — they make the node write files, and
 * no client may make the node write to its disk.
 *
 * @module
 */
import { logger } from "../log.ts";
import type { Counter, Metrics } from "../metrics.ts";

const log = logger("server");

/** What {@link InfoForwarder} needs. */
export interface InfoForwardOptions {
  /** The node's info server, e.g. `http://localhost:3001/info`. */
  readonly url: string;
  /** Milliseconds a forwarded request may take, answer included. */
  readonly timeoutMs: number;
  /** Forwarded requests in flight at once; more are answered 429. */
  readonly maxConcurrent: number;
  /** Largest accepted answer from the node in bytes. */
  readonly maxResponseBytes: number;
  /** Milliseconds a `meta`/`spotMeta`/`perpDexs` answer is reused; 0 = no caching. */
  readonly cacheMs: number;
  readonly metrics: Metrics;
}

/** The node's answer, relayed verbatim, or hlbook's own error (the node was not asked or did not answer). */
export type ForwardResult =
  | { readonly ok: true; readonly status: number; readonly contentType: string; readonly body: Uint8Array }
  | { readonly ok: false; readonly status: number; readonly error: string };

/** Info types whose answers are shared between clients for `cacheMs`. */
const CACHED_TYPES: ReadonlySet<string> = new Set(["meta", "spotMeta", "perpDexs"]);

/** Why a request must not reach the node, or null when it may. */
export function refusedInfoRequest(payload: Readonly<Record<string, unknown>>): string | null {
  if (payload.type === "fileSnapshot" || "outPath" in payload) {
    return "Failed to deserialize the JSON body into the target type: type: " +
      `${JSON.stringify(payload.type ?? null)} is not served by hlbook (it makes the node write files)`;
  }
  return null;
}

interface CacheEntry {
  readonly until: number;
  readonly result: ForwardResult;
}

/** Relays info requests to the node's info server within the bounds described in the module doc. */
export class InfoForwarder {
  readonly #options: InfoForwardOptions;
  #inFlight = 0;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #pending = new Map<string, Promise<ForwardResult>>();
  readonly #forwarded: Counter;
  readonly #failed: Counter;
  readonly #busy: Counter;
  readonly #cacheHits: Counter;
  readonly #refused: Counter;
  readonly #logged = new Set<string>();

  constructor(options: InfoForwardOptions) {
    this.#options = options;
    const m = options.metrics;
    this.#forwarded = m.counter(
      "hlbook_info_forwarded_total",
      "info requests relayed to the node's info server",
    );
    this.#failed = m.counter(
      "hlbook_info_forward_failures_total",
      "forwarded info requests the node did not answer in time, at all, or answered too large",
    );
    this.#busy = m.counter(
      "hlbook_info_forward_busy_total",
      "info requests answered 429 because the forwarding limit was reached",
    );
    this.#cacheHits = m.counter(
      "hlbook_info_forward_cache_hits_total",
      "meta/spotMeta/perpDexs requests answered from the short cache",
    );
    this.#refused = m.counter(
      "hlbook_info_refused_total",
      "info requests refused because they would make the node write files",
    );
  }

  /**
   * Relays one request: `payload` is the parsed body (for the refusal check and the cache key), `body` the
   * bytes the client sent. Never throws.
   */
  forward(payload: Readonly<Record<string, unknown>>, body: Uint8Array): Promise<ForwardResult> {
    const refusal = this.refusal(payload);
    if (refusal !== null) return Promise.resolve({ ok: false, status: 422, error: refusal });
    if (typeof payload.type !== "string" || !CACHED_TYPES.has(payload.type) || this.#options.cacheMs <= 0) {
      return this.#send(body);
    }
    const key = cacheKey(payload);
    const now = Date.now();
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.until > now) {
      this.#cacheHits.inc();
      return Promise.resolve(cached.result);
    }
    const pending = this.#pending.get(key);
    if (pending !== undefined) {
      this.#cacheHits.inc();
      return pending;
    }
    const trip = this.#send(body).then((result) => {
      this.#pending.delete(key);
      if (result.ok && result.status === 200) {
        if (this.#cache.size >= 64) this.#cache.clear();
        this.#cache.set(key, { until: Date.now() + this.#options.cacheMs, result });
      }
      return result;
    });
    this.#pending.set(key, trip);
    return trip;
  }

  /** Why `payload` is never forwarded (counted), or null when it may be. */
  refusal(payload: Readonly<Record<string, unknown>>): string | null {
    const refusal = refusedInfoRequest(payload);
    if (refusal !== null) this.#refused.inc();
    return refusal;
  }

  async #send(body: Uint8Array): Promise<ForwardResult> {
    const o = this.#options;
    if (this.#inFlight >= o.maxConcurrent) {
      this.#busy.inc();
      return {
        ok: false,
        status: 429,
        error:
          `too many info requests waiting for the node (at most ${o.maxConcurrent} at once): retry shortly`,
      };
    }
    this.#inFlight++;
    const signal = AbortSignal.timeout(o.timeoutMs);
    try {
      const response = await fetch(o.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body as Uint8Array<ArrayBuffer>,
        signal,
      });
      const read = await readCapped(response, o.maxResponseBytes);
      if (read === null) {
        this.#failed.inc();
        this.#logOnce("too large", "the node's info server sent an answer over {max} bytes", {
          max: o.maxResponseBytes,
        });
        return {
          ok: false,
          status: 502,
          error: `the node's info server answered with more than ${o.maxResponseBytes} bytes`,
        };
      }
      this.#forwarded.inc();
      if (this.#logged.size > 0) {
        this.#logged.clear();
        log.info("info forwarding: the node's info server answers again");
      }
      return {
        ok: true,
        status: response.status,
        contentType: response.headers.get("content-type") ?? "application/json",
        body: read,
      };
    } catch (error) {
      this.#failed.inc();
      if (signal.aborted) {
        this.#logOnce("timeout", "the node's info server did not answer within {ms} ms", { ms: o.timeoutMs });
        return {
          ok: false,
          status: 504,
          error: `the node's info server did not answer within ${o.timeoutMs} ms`,
        };
      }
      const message = error instanceof Error ? error.message : String(error);
      this.#logOnce("unreachable", "the node's info server is unreachable: {message}", { message });
      return { ok: false, status: 502, error: `the node's info server is unreachable: ${message}` };
    } finally {
      this.#inFlight--;
    }
  }

  /** Logs a kind of failure once until the node answers again (an outage is one line, not one per request). */
  #logOnce(kind: string, text: string, properties: Record<string, unknown>): void {
    if (this.#logged.has(kind)) return;
    this.#logged.add(kind);
    log.warn(`info forwarding: ${text} (logged once; see hlbook_info_forward_failures_total)`, properties);
  }
}

/** The payload with sorted keys: `{"dex":"","type":"meta"}` and `{"type":"meta","dex":""}` share an entry. */
function cacheKey(payload: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(payload).sort();
  return JSON.stringify(keys.map((k) => [k, payload[k]]));
}

/** The whole body, or null when it is larger than `max` bytes (reading stops there). */
async function readCapped(response: Response, max: number): Promise<Uint8Array | null> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel();
    return null;
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
