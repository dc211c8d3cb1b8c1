/**
 * Unexpected failures inside the feed: each kind logged once (never per event) and every one counted, so a
 * bug in one block's fan-out neither floods the log nor stops the feed.
 *
 * @module
 */
import type { Counter, Metrics } from "../metrics.ts";
import { logger } from "../log.ts";

const log = logger("feed");

/** The feed's fault log (core and edge share the counter when they share a metrics registry). */
export class Faults {
  readonly #logged = new Set<string>();
  readonly #count: Counter;

  constructor(metrics: Metrics) {
    this.#count = metrics.counter(
      "hlbook_feed_faults_total",
      "unexpected failures inside the feed (logged once per kind)",
    );
  }

  /** Counts a failure; logs it when its kind (`what`) is new. */
  report(what: string, error: unknown): void {
    this.#count.inc();
    if (this.#logged.has(what)) return;
    this.#logged.add(what);
    log.error("unexpected failure in {what}: {error}", { what, error });
  }
}
