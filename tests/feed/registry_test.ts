import assert from "node:assert/strict";
import { Client, type ClientSink, Registry, type Subscription, subscriptionKey } from "../../src/feed/mod.ts";

const sink: ClientSink = { send() {}, bufferedAmount: 0, close() {} };
const LIMITS = { maxSubscriptions: 10, maxBuffered: 1024 };
const BTC: Subscription = { type: "bbo", coin: "BTC" };
const ETH: Subscription = { type: "trades", coin: "ETH" };

Deno.test("a view exists from its first watcher to its last one; counts follow every change", () => {
  const registry = new Registry();
  const a = new Client(sink, LIMITS);
  const b = new Client(sink, LIMITS);
  const btc = subscriptionKey(BTC);
  const eth = subscriptionKey(ETH);
  assert.equal(registry.add(a, btc, BTC).first, true);
  assert.equal(registry.add(b, btc, BTC).first, false);
  assert.equal(registry.add(a, eth, ETH).first, true);
  assert.equal(registry.subscriptions, 3);
  assert.deepEqual([...(registry.get(btc)?.subscribers ?? [])], [a, b]);
  assert.deepEqual([...a.views.keys()], [btc, eth]);

  assert.equal(registry.remove(a, btc)?.last, false, "b still watches BTC");
  assert.equal(registry.remove(a, btc), undefined, "a no longer watches it");
  assert.equal(registry.subscriptions, 2);
  assert.equal(registry.remove(b, btc)?.last, true);
  assert.equal(registry.get(btc), undefined, "the view is gone with its last watcher");
  assert.deepEqual([...registry.views()].map((v) => v.key), [eth]);
  assert.equal(registry.remove(a, eth)?.last, true);
  assert.equal(registry.subscriptions, 0);
  assert.equal(a.views.size + b.views.size, 0);
});
