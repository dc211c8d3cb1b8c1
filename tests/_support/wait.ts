/**
 * Bounded waits for tests: every wait names what it waits for and throws after its timeout. Sleeps are for
 * pacing (writing like a node does), never for synchronisation: wait for an event or a condition instead.
 *
 * @module
 */

/** Sleeps `ms` milliseconds: pacing only. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What a `waitFor` check returns once it is done: its value minus the falsy "not yet" answers. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/** Thrown by a `waitFor` check to stop waiting at once (e.g. the process it waits on has exited). */
export class StopWaiting extends Error {}

/**
 * Polls `check` (sync or async) until it returns a truthy value, which it returns; throws after `timeout` ms
 * naming `what` and the last error `check` threw. A check that throws is retried (the server may not be up
 * yet), except with {@link StopWaiting}.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeout = 20_000,
  every = 10,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    }
    await sleep(every);
  }
}

/** Rejects when `promise` does not settle within `ms`; never leaves a timer behind. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
