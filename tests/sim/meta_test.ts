import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_COINS, makeCoins, simMeta, startSimNode } from "../../src/sim/mod.ts";

interface SpotMeta {
  universe: { tokens: [number, number]; name: string; index: number; isCanonical: boolean }[];
  tokens: { name: string; szDecimals: number; weiDecimals: number; index: number; tokenId: string }[];
}

Deno.test("the simulated node's meta, spotMeta and perpDexs are shaped like mainnet's", async (t) => {
  const meta = JSON.parse(simMeta(DEFAULT_COINS).meta);
  const spot: SpotMeta = JSON.parse(simMeta(DEFAULT_COINS).spotMeta);

  await t.step("meta lists every simulated perp in order with its size decimals and a margin table", () => {
    const perps = DEFAULT_COINS.filter((c) => !c.spot);
    assert.deepEqual(
      meta.universe.map((u: { name: string; szDecimals: number }) => [u.name, u.szDecimals]),
      perps.map((c) => [c.name, c.szDecimals]),
    );
    const tables = new Map(meta.marginTables);
    for (const u of meta.universe) {
      assert.ok(Number.isInteger(u.maxLeverage) && u.maxLeverage > 0, u.name);
      assert.ok(tables.has(u.marginTableId), `${u.name}: margin table ${u.marginTableId} listed`);
    }
    assert.equal(meta.collateralToken, 0);
  });

  await t.step("spot tokens and pairs are position-aligned; PURR/USDC is pair 0 and @107 is pair 107", () => {
    spot.tokens.forEach((token, i) => assert.equal(token.index, i, `token at ${i}`));
    spot.universe.forEach((pair, i) => assert.equal(pair.index, i, `pair at ${i}`));
    for (const token of spot.tokens) assert.match(token.tokenId, /^0x[0-9a-f]{32}$/);
    assert.deepEqual(spot.universe[0], { tokens: [1, 0], name: "PURR/USDC", index: 0, isCanonical: true });
    assert.deepEqual(spot.universe[107], { tokens: [150, 0], name: "@107", index: 107, isCanonical: false });
    assert.deepEqual(
      [spot.tokens[0].name, spot.tokens[1].name, spot.tokens[150].name],
      ["USDC", "PURR", "HYPE"],
    );
    assert.equal(new Set(spot.universe.map((p) => p.name)).size, spot.universe.length, "pair names unique");
    assert.equal(new Set(spot.tokens.map((p) => p.name)).size, spot.tokens.length, "token names unique");
  });

  await t.step("each simulated spot pair's base token has the pair's size decimals", () => {
    for (const coin of DEFAULT_COINS.filter((c) => c.spot)) {
      const pair = spot.universe.find((p) => p.name === coin.name);
      assert.ok(pair, coin.name);
      assert.equal(spot.tokens[pair.tokens[0]].szDecimals, coin.szDecimals, coin.name);
      assert.equal(pair.tokens[1], 0, `${coin.name} is quoted in USDC`);
    }
  });

  await t.step("perpDexs is the main dex alone; synthetic perps are listed too", () => {
    assert.deepEqual(JSON.parse(simMeta(DEFAULT_COINS).perpDexs), [null]);
    const many = JSON.parse(simMeta(makeCoins(12)).meta);
    assert.deepEqual(many.universe.map((u: { name: string }) => u.name).slice(5), [
      "COIN007",
      "COIN008",
      "COIN009",
      "COIN010",
      "COIN011",
    ]);
    const onlyPerps = JSON.parse(simMeta(makeCoins(3)).spotMeta);
    assert.deepEqual(onlyPerps.universe, []);
    assert.deepEqual(onlyPerps.tokens.map((t: { name: string }) => t.name), ["USDC"]);
  });

  await t.step("the running node answers them over its info server", async () => {
    const dir = await Deno.makeTempDir({ prefix: "hlbook-sim-meta-" });
    const node = await startSimNode({ dataDir: join(dir, "data"), infoPort: 0, manual: true, seed: 3 });
    try {
      const expected = simMeta(node.sim.specs);
      for (const [type, text] of [["meta", expected.meta], ["spotMeta", expected.spotMeta]] as const) {
        const response = await fetch(node.infoUrl ?? "", { method: "POST", body: JSON.stringify({ type }) });
        assert.equal(response.status, 200, type);
        assert.equal(await response.text(), text, type);
      }
      const dexs = await fetch(node.infoUrl ?? "", { method: "POST", body: '{"type":"perpDexs"}' });
      assert.equal(await dexs.text(), "[null]");
      const before = Date.now();
      const status = await fetch(node.infoUrl ?? "", { method: "POST", body: '{"type":"exchangeStatus"}' });
      const { specialStatuses, time } = await status.json();
      assert.equal(specialStatuses, null);
      assert.ok(Number.isInteger(time) && time >= before && time <= Date.now(), "the node's clock");
      const other = await fetch(node.infoUrl ?? "", { method: "POST", body: '{"type":"meta","dex":"xyz"}' });
      assert.equal(other.status, 422);
      await other.body?.cancel();
    } finally {
      await node.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
});
