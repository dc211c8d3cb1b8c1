import assert from "node:assert/strict";
import {
  invalidSubscription,
  parseClientMessage,
  parseInfoRequest,
  parseSubscription,
} from "../../src/feed/mod.ts";

const known = (coin: string) => ["BTC", "@107", "PURR/USDC", "xyz:TSLA"].includes(coin);

Deno.test("subscriptions are validated and normalised", async (t) => {
  await t.step("absent and null parameters are the same subscription; nLevels defaults to 20", () => {
    const a = parseSubscription({ type: "l2Book", coin: "BTC" }, known);
    const b = parseSubscription(
      { type: "l2Book", coin: "BTC", nSigFigs: null, mantissa: null, nLevels: 20 },
      known,
    );
    assert.ok(a.ok && b.ok);
    assert.equal(a.request.key, b.request.key);
    assert.deepEqual(a.request.subscription, {
      type: "l2Book",
      coin: "BTC",
      params: { nSigFigs: null, mantissa: null, nLevels: 20 },
    });
  });

  await t.step("the official `fast` flag is accepted and echoed; nLevels must be a whole number", () => {
    const fast = parseSubscription({ type: "l2Book", coin: "BTC", fast: true }, known);
    assert.ok(fast.ok);
    assert.equal(
      fast.request.echo,
      '{"type":"l2Book","coin":"BTC","fast":true,"nSigFigs":null,"mantissa":null}',
    );
    assert.equal(parseSubscription({ type: "l2Book", coin: "BTC", nLevels: 2.5 }, known).ok, false);
    assert.equal(parseSubscription({ type: "l2Book", coin: "BTC", nSigFigs: "5" }, known).ok, false);
  });

  await t.step("spot and builder-dex coins are served like perps", () => {
    for (const coin of ["@107", "PURR/USDC", "xyz:TSLA"]) {
      assert.ok(parseSubscription({ type: "l2Book", coin }, known).ok, coin);
      assert.ok(parseSubscription({ type: "l4Book", coin }, known).ok, coin);
    }
  });

  await t.step("allMids takes an optional dex", () => {
    const main = parseSubscription({ type: "allMids" }, known);
    const dex = parseSubscription({ type: "allMids", dex: "xyz" }, known);
    assert.ok(main.ok && dex.ok);
    assert.notEqual(main.request.key, dex.request.key);
    assert.equal(parseSubscription({ type: "allMids", dex: 5 }, known).ok, false);
  });

  await t.step("without a book every coin name is accepted", () => {
    assert.ok(parseSubscription({ type: "trades", coin: "ANY" }, null).ok);
    assert.equal(parseSubscription({ type: "trades", coin: "" }, null).ok, false);
  });

  await t.step("post needs a numeric id and an info request", () => {
    assert.equal(parseClientMessage('{"method":"post","request":{}}', known).ok, false);
    const noInfo = parseClientMessage('{"method":"post","id":3,"request":{"type":"action"}}', known);
    assert.ok(!noInfo.ok && "postId" in noInfo && noInfo.postId === 3);
    const ok = parseClientMessage(
      '{"method":"post","id":4,"request":{"type":"info","payload":{"type":"l2Book","coin":"BTC"}}}',
      known,
    );
    assert.ok(ok.ok && ok.message.method === "post" && ok.message.request.type === "l2Book");
  });
});

Deno.test("info requests are validated with errors that say what is allowed", async (t) => {
  await t.step("an l2Book request is normalised like a subscription", () => {
    assert.deepEqual(parseInfoRequest({ type: "l2Book", coin: "@107", nSigFigs: 5, mantissa: 2 }, known), {
      ok: true,
      request: { type: "l2Book", coin: "@107", params: { nSigFigs: 5, mantissa: 2, nLevels: 20 } },
    });
  });
  await t.step("an unknown coin is named in the error", () => {
    assert.deepEqual(parseInfoRequest({ type: "l2Book", coin: "NOPE" }, known), {
      ok: false,
      error: 'unknown coin "NOPE"',
    });
    assert.deepEqual(parseInfoRequest({ type: "l2Book" }, known), { ok: false, error: "unknown coin null" });
  });
  await t.step("bad l2Book parameters get the allowed ranges", () => {
    for (
      const bad of [{ nSigFigs: 1 }, { nSigFigs: 4, mantissa: 2 }, { nSigFigs: 5, mantissa: 3 }, {
        nLevels: 0,
      }]
    ) {
      assert.deepEqual(parseInfoRequest({ type: "l2Book", coin: "BTC", ...bad }, known), {
        ok: false,
        error:
          "invalid l2Book parameters: nSigFigs must be 2..5 or null, mantissa 2 or 5 only with nSigFigs 5, " +
          "nLevels 1..100",
      }, JSON.stringify(bad));
    }
  });
  await t.step("allMids takes an optional dex", () => {
    assert.deepEqual(parseInfoRequest({ type: "allMids" }, known), {
      ok: true,
      request: { type: "allMids", dex: "" },
    });
    assert.deepEqual(parseInfoRequest({ type: "allMids", dex: "xyz" }, known), {
      ok: true,
      request: { type: "allMids", dex: "xyz" },
    });
    assert.deepEqual(parseInfoRequest({ type: "allMids", dex: 7 }, known), {
      ok: false,
      error: "dex must be a string",
    });
  });
});

const OFFICIAL_FRAMES = new URL("../../../shared/docs/official-ws-frames.jsonl", import.meta.url);

Deno.test("error texts are the official server's, word for word", async (t) => {
  await t.step("an official type hlbook does not serve is an invalid subscription, not a parse error", () => {
    for (const subscription of [{ type: "webData2", user: "0x01" }, { type: "notification", user: "0x01" }]) {
      const text = JSON.stringify({ method: "subscribe", subscription });
      const result = parseClientMessage(text, () => true);
      assert.deepEqual(result, { ok: false, error: `Invalid subscription ${JSON.stringify(subscription)}` });
    }
    const unknown = parseClientMessage('{"method":"subscribe","subscription":{"type":"noSuchType"}}', null);
    assert.ok(!unknown.ok && unknown.error.startsWith("Error parsing JSON into valid websocket request: "));
  });

  let frames: string;
  try {
    frames = await Deno.readTextFile(OFFICIAL_FRAMES);
  } catch {
    // deno-lint-ignore no-console
    console.warn(`skipping the official-frame comparison: ${OFFICIAL_FRAMES.pathname} is absent`);
    return;
  }
  await t.step("the recorded official error frames start with the texts hlbook writes", () => {
    const errors = frames.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))
      .filter((frame) => frame.channel === "error").map((frame) => String(frame.data));
    const invalid = errors.find((text) => text.startsWith("Invalid subscription"));
    assert.ok(invalid !== undefined, "the recording has an Invalid subscription frame");
    const sent = invalid.slice(invalid.indexOf("{"));
    assert.equal(invalidSubscription(sent), invalid);
    const parse = errors.find((text) => text.startsWith("Error parsing JSON"));
    const body = parse?.slice(parse.indexOf("{")) ?? "";
    const ours = parseClientMessage(body, null);
    assert.deepEqual(ours, { ok: false, error: parse });
  });
});
