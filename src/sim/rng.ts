/**
 * Seeded pseudo-random numbers for the simulated node (sfc32): the same seed gives the same exchange.
 *
 * @module
 */

const HEX8 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A small deterministic PRNG with the distributions the simulator needs. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    // splitmix32 to spread the seed over the four state words
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller). */
  gauss(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Poisson-distributed count with mean `mean` (normal approximation above 30). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.gauss()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** Integer in [lo, hi] with a log-uniform distribution (small values more likely). */
  logUniform(lo: number, hi: number): number {
    const v = Math.floor(Math.exp(Math.log(lo) + this.next() * (Math.log(hi + 1) - Math.log(lo))));
    return Math.min(hi, Math.max(lo, v));
  }

  /** Geometric-like distance 0, 1, 2… with mean about `mean`. */
  distance(mean: number): number {
    return Math.floor(-Math.log(1 - this.next()) * mean);
  }

  /** `n` random lowercase hex digits. */
  hex(n: number): string {
    let s = "";
    for (let i = 0; i < n; i += 8) {
      const word = this.int(0x100000000);
      const chunk = HEX8[word >>> 24] + HEX8[(word >>> 16) & 255] + HEX8[(word >>> 8) & 255] +
        HEX8[word & 255];
      s += n - i >= 8 ? chunk : chunk.slice(0, n - i);
    }
    return s;
  }

  /** A random element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}
