import assert from "node:assert/strict";
import { wsOrderFromRaw, wsOrderJson } from "../../src/feed/user_streams.ts";
import { fixtureTest, readFixtureLines } from "../_support/fixtures.ts";
import { blockLines, Simulator } from "../../src/sim/mod.ts";

/** Each status event of a node line as its own JSON text (as the ingest keeps raw statuses). */
function rawEvents(line: string): string[] {
  return (JSON.parse(line).events as unknown[]).map((e) => JSON.stringify(e));
}

function check(raws: readonly string[]): { fast: number; total: number } {
  let fast = 0;
  for (const raw of raws) {
    const cut = wsOrderFromRaw(raw);
    if (cut === null) continue;
    fast++;
    assert.equal(cut.json, wsOrderJson(JSON.parse(raw)), raw);
    assert.equal(cut.status, JSON.parse(raw).status);
  }
  return { fast, total: raws.length };
}

Deno.test({
  ...fixtureTest(
    "a WsOrder cut out of the node's status text equals the one built from the parsed status (mainnet)",
  ),
  fn: async () => {
    const raws = (await readFixtureLines("node_order_statuses_by_block.jsonl.gz")).flatMap(rawEvents);
    const { fast, total } = check(raws);
    assert.ok(fast > total * 0.9, `only ${fast} of ${total} statuses took the fast path`);
    // Orders with children do not match the layout and are parsed in full.
    const withChildren = raws.filter((r) => r.includes('"children":[{'));
    assert.ok(withChildren.length > 0);
    for (const raw of withChildren) assert.equal(wsOrderFromRaw(raw), null);
  },
});

Deno.test("a WsOrder cut out of the simulator's status text equals the one built from the parsed status", () => {
  const sim = new Simulator({ seed: 2, load: 0.3 });
  const raws: string[] = [];
  for (let i = 0; i < 50; i++) raws.push(...rawEvents(blockLines(sim.step()).statuses));
  const { fast, total } = check(raws);
  assert.equal(fast, total);
  // Texts in another layout fall back to a full parse.
  assert.equal(wsOrderFromRaw(raws[0].replace('"order":{"coin"', '"order":{"extra":1,"coin"')), null);
});
