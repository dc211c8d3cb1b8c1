/**
 * Info answers (`POST /info`, a socket's `post`) built from the served books and history, and their cache.
 *
 * Core-side: an answer needs the books. `l2Book` answers are cached per height and block time (a repeat is a
 * lookup), `allMids` reuses the mids the views maintain, the per-user types go to the user streams.
 *
 * @module
 */
import type { Books } from "../book/mod.ts";
import type { InfoResult } from "../link/mod.ts";
import { l2BookData, levelsJson, type Phase } from "./messages.ts";
import type { InfoRequest } from "./subscription.ts";
import { USER_INFO_TYPES, type UserInfoRequest } from "./user_requests.ts";
import type { StreamInfoResult } from "./user_streams.ts";
import type { Views } from "./views.ts";

/**
 * Answers a `post` info request hlbook does not answer itself (forwarded to the node, or built from the node's
 * metadata): the `data` JSON, or the error text.
 */
export type InfoFallback = (
  payload: Readonly<Record<string, unknown>>,
) => Promise<{ readonly ok: true; readonly json: string } | { readonly ok: false; readonly error: string }>;

/** Most cached `l2Book` answers (per height; cleared when full). */
const CACHE_MAX = 1024;

/** Info requests answered by `user_streams.ts`. */
function isUserInfo(request: InfoRequest): request is UserInfoRequest {
  return USER_INFO_TYPES.has(request.type) && request.type !== "l2Book" && request.type !== "allMids";
}

/** What answers the per-user info types. */
export interface UserInfo {
  info(request: UserInfoRequest, books: Books | null, phase: Phase): StreamInfoResult;
}

/** The info answers of one core. */
export class InfoAnswers {
  readonly #views: Views;
  readonly #users: UserInfo;
  /** `l2Book` answers (`data` JSON) at `#books`/`#height`/`#time`, by coin and parameters. */
  readonly #cache = new Map<string, string>();
  #books: Books | null = null;
  #height = -1;
  #time = -1;

  constructor(views: Views, users: UserInfo) {
    this.#views = views;
    this.#users = users;
  }

  /** Answers an info request (`l2Book` → `{coin,time,levels}`, `allMids` → `{coin: mid}`, per-user types). */
  answer(request: InfoRequest, served: Books | null, phase: Phase): InfoResult {
    if (isUserInfo(request)) return this.#users.info(request, served, phase);
    if (served === null) {
      return { ok: false, status: 503, error: `order book not ready (${phase}): retry shortly` };
    }
    if (request.type !== "l2Book") return { ok: true, json: this.#views.mids(request.dex, served) };
    const time = this.#views.timeOf(served);
    if (this.#books !== served || this.#height !== served.height || this.#time !== time) {
      this.#cache.clear();
      this.#books = served;
      this.#height = served.height;
      this.#time = time;
    }
    const p = request.params;
    const key = `${request.coin}\u0000${p.nSigFigs}\u0000${p.mantissa}\u0000${p.nLevels}`;
    let json = this.#cache.get(key);
    if (json === undefined) {
      json = l2BookData(request.coin, time, levelsJson(served.l2(request.coin, request.params)));
      if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
      this.#cache.set(key, json);
    }
    return { ok: true, json };
  }
}
