import assert from "node:assert/strict";
import { NumMap } from "../../src/book/_num_map.ts";
import { rng } from "../_support/rng.ts";

Deno.test("NumMap agrees with Map under random set/delete/get of large integer keys", () => {
  const next = rng(11);
  const mine = new NumMap<{ v: number }>();
  const ref = new Map<number, { v: number }>();
  // Clustered oid-like keys and a few far apart ones, so probe runs wrap and backward shifts happen.
  const key = () =>
    next() < 0.9 ? 412_036_000_000 + Math.floor(next() * 5000) : Math.floor(next() * 9_000_000_000_000_000);
  for (let i = 0; i < 200_000; i++) {
    const k = key();
    const r = next();
    if (r < 0.45) {
      const v = { v: i };
      mine.set(k, v);
      ref.set(k, v);
    } else if (r < 0.8) {
      assert.equal(mine.delete(k), ref.delete(k));
    } else {
      assert.equal(mine.get(k), ref.get(k));
    }
    assert.equal(mine.size, ref.size);
  }
  for (const [k, v] of ref) assert.equal(mine.get(k), v);
  let n = 0;
  mine.forEach((v, k) => {
    n++;
    assert.equal(ref.get(k), v);
  });
  assert.equal(n, ref.size);
});
