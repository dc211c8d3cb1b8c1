/**
 * Info requests the feed does not answer from its books: `metaAndAssetCtxs` (with `dex`) and
 * `spotMetaAndAssetCtxs` are built here from the node's `meta`/`spotMeta` plus one asset context per market
 * (see `src/feed/asset_ctx.ts`); every other type is relayed to the node (`info_forward.ts`), except those
 * that make the node write files.
 *
 * Why built and not forwarded: the node's info server does not answer the `…AndAssetCtxs` types, and every
 * client library asks for them at start-up (ccxt's `loadMarkets`, the `hyperliquid` SDK every 60 s).
 *
 * @module
 */
import { isInfoType, type ServedFeed } from "../feed/mod.ts";
import type { Counter, Metrics } from "../metrics.ts";
import type { ForwardResult, InfoForwarder } from "./info_forward.ts";

/** Outcome of a `post` over the socket: the `data` JSON or the error text. */
export type PostAnswer = { readonly ok: true; readonly json: string } | {
  readonly ok: false;
  readonly error: string;
};

type Built =
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly status: number; readonly error: string };

interface CtxCache {
  readonly meta: Uint8Array;
  readonly version: string;
  readonly json: string;
  /** When it was built (ms). */
  readonly at: number;
}

/**
 * How long a built `…AndAssetCtxs` answer is reused although blocks changed it (ms). On mainnet nearly every
 * market changes in every block, so without it each request rebuilds hundreds of contexts (~20 ms, see
 * bench section 6); with it, at most one build per dex per second whatever the number of clients.
 */
export const CTX_MAX_AGE_MS = 1000;

const CTX_TYPES: Readonly<Record<string, "meta" | "spotMeta">> = {
  metaAndAssetCtxs: "meta",
  spotMetaAndAssetCtxs: "spotMeta",
};

const decoder = new TextDecoder();

function headers(contentType: string): HeadersInit {
  return { "content-type": contentType, "access-control-allow-origin": "*" };
}

function errorResponse(status: number, error: string): Response {
  return new Response(JSON.stringify({ error }), {
    status,
    headers: headers("application/json; charset=utf-8"),
  });
}

/** Answers info requests the feed does not: built asset contexts, then the node, within the forwarder's bounds. */
export class InfoProxy {
  readonly #forwarder: InfoForwarder;
  readonly #feed: ServedFeed;
  /** `metaAndAssetCtxs` per dex / `spotMetaAndAssetCtxs`: rebuilt only when the node's meta or a ctx changed. */
  readonly #built = new Map<string, CtxCache>();
  readonly #ctxAnswers: Counter;
  readonly #maxAgeMs: number;

  /** `ctxMaxAgeMs`: see {@link CTX_MAX_AGE_MS} (tests use 0: every answer reflects the latest block). */
  constructor(
    forwarder: InfoForwarder,
    feed: ServedFeed,
    metrics: Metrics,
    options: { ctxMaxAgeMs?: number } = {},
  ) {
    this.#forwarder = forwarder;
    this.#feed = feed;
    this.#maxAgeMs = options.ctxMaxAgeMs ?? CTX_MAX_AGE_MS;
    this.#ctxAnswers = metrics.counter(
      "hlbook_info_asset_ctxs_total",
      "metaAndAssetCtxs and spotMetaAndAssetCtxs requests answered (built, or the same answer again)",
    );
  }

  /** `POST /info` with a type the feed does not answer; `body` is what the client sent. Never throws. */
  async http(payload: Readonly<Record<string, unknown>>, body: Uint8Array): Promise<Response> {
    const refusal = this.#forwarder.refusal(payload);
    if (refusal !== null) {
      // The official API answers requests it cannot deserialise 422 with a plain-text reason.
      return new Response(refusal, { status: 422, headers: headers("text/plain; charset=utf-8") });
    }
    if (typeof payload.type === "string" && payload.type in CTX_TYPES) {
      const built = await this.#ctxs(payload);
      return built.ok
        ? new Response(built.json, { headers: headers("application/json; charset=utf-8") })
        : errorResponse(built.status, built.error);
    }
    const result = await this.#forwarder.forward(payload, body);
    if (!result.ok) return errorResponse(result.status, result.error);
    return new Response(result.body as Uint8Array<ArrayBuffer>, {
      status: result.status,
      headers: headers(result.contentType),
    });
  }

  /** A `post` info request over the socket with a type the feed does not answer. Never throws. */
  async post(payload: Readonly<Record<string, unknown>>): Promise<PostAnswer> {
    if (!isInfoType(payload.type)) return { ok: false, error: "info request type must be a string" };
    if (payload.type in CTX_TYPES) {
      const built = await this.#ctxs(payload);
      return built.ok ? built : { ok: false, error: built.error };
    }
    const result = await this.#forwarder.forward(payload, new TextEncoder().encode(JSON.stringify(payload)));
    if (!result.ok) return { ok: false, error: result.error };
    const text = decoder.decode(result.body);
    if (result.status !== 200) return { ok: false, error: text };
    try {
      JSON.parse(text); // the answer is embedded raw in the post frame: it must be JSON
    } catch {
      return { ok: false, error: `the node's info server answered ${payload.type} with invalid JSON` };
    }
    return { ok: true, json: text };
  }

  /** `[<node's meta verbatim>,[ctx, …]]`, one ctx per universe entry in the node's order. */
  async #ctxs(payload: Readonly<Record<string, unknown>>): Promise<Built> {
    const type = String(payload.type);
    const metaType = CTX_TYPES[type];
    const dex = payload.dex ?? "";
    if (typeof dex !== "string") {
      return {
        ok: false,
        status: 422,
        error:
          "Failed to deserialize the JSON body into the target type: dex: invalid type: expected a string",
      };
    }
    const request: Record<string, unknown> = { type: metaType };
    if (metaType === "meta" && dex !== "") request.dex = dex;
    const result: ForwardResult = await this.#forwarder.forward(
      request,
      new TextEncoder().encode(JSON.stringify(request)),
    );
    if (!result.ok) return result;
    const metaText = decoder.decode(result.body);
    if (result.status !== 200) return { ok: false, status: result.status, error: metaText };
    this.#ctxAnswers.inc();
    const key = `${type}\u0000${dex}`;
    const cached = this.#built.get(key);
    const same = cached !== undefined && cached.meta === result.body ? cached : null;
    if (same !== null && Date.now() - same.at < this.#maxAgeMs) return { ok: true, json: same.json };
    const names = universeNames(metaText);
    if (names === null) {
      return {
        ok: false,
        status: 502,
        error: `the node's info server answered ${metaType} without a universe of named markets`,
      };
    }
    const answer = await this.#feed.assetCtxs(names, same?.version ?? null);
    if (answer === null) return { ok: false, status: 503, error: "the feed's core restarted; try again" };
    // Unchanged since the cached answer: it is reused (and counts as fresh again).
    const json = answer.ctxs === null && same !== null
      ? same.json
      : `[${metaText.trim()},[${(answer.ctxs ?? []).join(",")}]]`;
    if (this.#built.size >= 64) this.#built.clear();
    this.#built.set(key, { meta: result.body, version: answer.version, json, at: Date.now() });
    return { ok: true, json };
  }
}

/** The market names of a `meta` or `spotMeta` answer, in order, or null when it has no such universe. */
function universeNames(text: string): string[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (
    typeof value !== "object" || value === null || !Array.isArray((value as { universe?: unknown }).universe)
  ) {
    return null;
  }
  const names: string[] = [];
  for (const entry of (value as { universe: unknown[] }).universe) {
    const name = (entry as { name?: unknown } | null)?.name;
    if (typeof name !== "string") return null;
    names.push(name);
  }
  return names;
}
