/**
 * The core lock: at most one hlbook core publishes to a NATS deployment (docs/scale-out.md).
 *
 * Two cores would publish the same blocks twice (JetStream's dedup window would hide most of it) but also
 * their own re-syncs, snapshots and view sets, and edges could not tell which to trust. The guard is one key in
 * a KV bucket whose entries expire after `ttlMs`: a core takes it with `create` (which fails when the key is
 * held), then renews it with `update` against the revision it last wrote (which fails when anyone else wrote
 * since). A core that dies stops renewing and its entry expires, so a stand-by takes over within `ttlMs`. A core
 * that cannot renew for `ttlMs` (NATS down, partition) must assume it lost the lock and stops publishing
 * until it holds it again; that is what `onLost` tells the owner.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import { logger } from "../log.ts";

const log = logger("scaleout");

/** The key the core lock lives at. */
export const LOCK_KEY = "core";

/** Who holds the lock, as written into its entry. */
export interface LockHolder {
  readonly id: string;
  readonly since: number;
}

/** Outcome of one attempt to take the lock. */
export type LockAttempt =
  | { readonly ok: true; readonly lock: CoreLock }
  | { readonly ok: false; readonly holder: LockHolder | null };

export interface CoreLockOptions {
  /** This core's identity (host and pid, say): logged by a stand-by so the operator knows who holds it. */
  readonly id: string;
  /** The bucket's TTL: how long a lock outlives its last renewal. Renewed every third of it. */
  readonly ttlMs: number;
  /** The lock was lost (another core holds it, or renewal failed for `ttlMs`): stop publishing. */
  readonly onLost: (reason: string) => void;
}

/** A held core lock, renewed in the background until {@link CoreLock.release}. */
export class CoreLock {
  readonly #kv: KV;
  readonly #options: CoreLockOptions;
  readonly #value: Uint8Array;
  #revision: number;
  #renewed = Date.now();
  #timer: ReturnType<typeof setInterval> | null = null;
  #renewing = false;
  #lost = false;

  private constructor(kv: KV, options: CoreLockOptions, value: Uint8Array, revision: number) {
    this.#kv = kv;
    this.#options = options;
    this.#value = value;
    this.#revision = revision;
    this.#timer = setInterval(() => void this.#renew(), Math.max(50, Math.floor(options.ttlMs / 3)));
  }

  /** Tries once to take the lock. A held lock answers with its holder (null when unreadable). */
  static async acquire(kv: KV, options: CoreLockOptions): Promise<LockAttempt> {
    const holder: LockHolder = { id: options.id, since: Date.now() };
    const value = new TextEncoder().encode(JSON.stringify(holder));
    try {
      const revision = await kv.create(LOCK_KEY, value);
      return { ok: true, lock: new CoreLock(kv, options, value, revision) };
    } catch (error) {
      const current = await kv.get(LOCK_KEY).catch(() => null);
      if (current === null || current.operation !== "PUT") {
        // Not held after all (it expired or was released between the two calls), or NATS failed: say so.
        log.debug("core lock not taken: {error}", { error: String(error) });
        return { ok: false, holder: null };
      }
      try {
        return { ok: false, holder: current.json<LockHolder>() };
      } catch {
        return { ok: false, holder: null };
      }
    }
  }

  /** True until the lock is lost or released. */
  get held(): boolean {
    return !this.#lost && this.#timer !== null;
  }

  async #renew(): Promise<void> {
    if (this.#renewing || !this.held) return;
    this.#renewing = true;
    try {
      this.#revision = await this.#kv.update(LOCK_KEY, this.#value, this.#revision);
      this.#renewed = Date.now();
    } catch (error) {
      const text = String(error);
      // "wrong last sequence": somebody else wrote the key, so it is theirs now.
      if (/wrong last sequence/i.test(text)) this.#lose(`another core holds the lock now (${text})`);
      else if (Date.now() - this.#renewed >= this.#options.ttlMs) {
        this.#lose(`could not renew the lock for ${this.#options.ttlMs} ms (${text})`);
      } else log.debug("core lock renewal failed, retrying: {error}", { error: text });
    } finally {
      this.#renewing = false;
    }
  }

  #lose(reason: string): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#stop();
    log.warn("core lock lost: {reason}", { reason });
    this.#options.onLost(reason);
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Gives the lock up (on shutdown) so a stand-by need not wait for the TTL. Idempotent. */
  async release(): Promise<void> {
    const held = this.held;
    this.#stop();
    if (!held) return;
    try {
      await this.#kv.delete(LOCK_KEY, { previousSeq: this.#revision });
    } catch (error) {
      log.debug("core lock release failed (it expires with its TTL): {error}", { error: String(error) });
    }
  }
}
