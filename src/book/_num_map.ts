/**
 * A hash map from non-negative integer numbers (safe integers such as oids ≈ 4e11 and prices in 1e-8 units)
 * to objects. V8's `Map` is slow for keys outside the small-integer range (heap-number keys: several hundred
 * ns a lookup on a 50k-entry map); this open-addressing table with linear probing and backward-shift deletion
 * keeps keys in a `Float64Array` and costs a few tens of ns.
 *
 * @module
 */

/** Map from a non-negative safe integer to a non-undefined value. */
export class NumMap<V> {
  #keys: Float64Array;
  #vals: (V | undefined)[];
  #mask: number;
  #size = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.#keys = new Float64Array(cap);
    this.#vals = new Array<V | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
  }

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  #slot(key: number): number {
    const lo = key >>> 0;
    const hi = (key / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 13;
    return h & this.#mask;
  }

  get(key: number): V | undefined {
    const keys = this.#keys;
    const vals = this.#vals;
    const mask = this.#mask;
    let i = this.#slot(key);
    for (;;) {
      const v = vals[i];
      if (v === undefined) return undefined;
      if (keys[i] === key) return v;
      i = (i + 1) & mask;
    }
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: V): void {
    const keys = this.#keys;
    const vals = this.#vals;
    const mask = this.#mask;
    let i = this.#slot(key);
    for (;;) {
      const v = vals[i];
      if (v === undefined) break;
      if (keys[i] === key) {
        vals[i] = value;
        return;
      }
      i = (i + 1) & mask;
    }
    keys[i] = key;
    vals[i] = value;
    if (++this.#size * 2 > mask + 1) this.#grow();
  }

  delete(key: number): boolean {
    const keys = this.#keys;
    const vals = this.#vals;
    const mask = this.#mask;
    let i = this.#slot(key);
    for (;;) {
      const v = vals[i];
      if (v === undefined) return false;
      if (keys[i] === key) break;
      i = (i + 1) & mask;
    }
    vals[i] = undefined;
    this.#size--;
    // Backward-shift: move later entries of the probe run into the hole when their home slot allows it.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (vals[j] === undefined) return true;
      const home = this.#slot(keys[j]);
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        keys[i] = keys[j];
        vals[i] = vals[j];
        vals[j] = undefined;
        i = j;
      }
    }
  }

  /** Calls `fn` for every entry (in table order). */
  forEach(fn: (value: V, key: number) => void): void {
    const keys = this.#keys;
    const vals = this.#vals;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== undefined) fn(v, keys[i]);
    }
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldVals = this.#vals;
    const cap = oldVals.length * 2;
    this.#keys = new Float64Array(cap);
    this.#vals = new Array<V | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
    this.#size = 0;
    for (let i = 0; i < oldVals.length; i++) {
      const v = oldVals[i];
      if (v !== undefined) this.set(oldKeys[i], v);
    }
  }
}
