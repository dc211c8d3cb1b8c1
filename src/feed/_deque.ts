/**
 * A FIFO of values with O(1) push, pop-front and index access (an array with a moving head, compacted when the
 * dead prefix gets large). Used by the fills history, where arrays with `shift()` would copy.
 *
 * @module
 */
export class Deque<T> {
  #items: T[] = [];
  #head = 0;

  /** Number of values. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  push(value: T): void {
    this.#items.push(value);
  }

  /** The value at `i` (0 = oldest). */
  at(i: number): T {
    return this.#items[this.#head + i];
  }

  /** The oldest value, or undefined. */
  front(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes and returns the oldest value. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const value = this.#items[this.#head];
    (this.#items as (T | undefined)[])[this.#head] = undefined;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  /** The values oldest first (a copy). */
  toArray(): T[] {
    return this.#items.slice(this.#head);
  }

  /** First index whose value satisfies `pred` (values must be ordered so that pred is monotonic). */
  lowerBound(pred: (value: T) => boolean): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(this.at(mid))) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
