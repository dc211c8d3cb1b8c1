import assert from "node:assert/strict";
import type { NodeFill, NodeStatusEvent, SimBlock } from "../../src/sim/mod.ts";
import { activeUsers, SimFeed } from "./_user_harness.ts";

/** The official WsOrder of a simulator status, built independently of hlbook. */
function wsOrder(s: NodeStatusEvent): {
  order: { coin: string } & Record<string, unknown>;
  status: string;
  statusTimestamp: number;
} {
  const o = s.order;
  return {
    order: {
      coin: o.coin,
      side: o.side,
      limitPx: o.limitPx,
      sz: o.sz,
      oid: o.oid,
      timestamp: o.timestamp,
      origSz: o.origSz,
      ...(o.cloid ? { cloid: o.cloid } : {}),
      ...(o.reduceOnly ? { reduceOnly: true } : {}),
    },
    status: s.status,
    statusTimestamp: Date.parse(`${s.time.slice(0, 23)}Z`),
  };
}

/** Groups a user's events by coin, keeping their order (hlbook groups a block's statuses by coin). */
function byCoin<T extends { order: { coin: string } }>(events: readonly T[]): Record<string, T[]> {
  const out: Record<string, T[]> = {};
  for (const e of events) (out[e.order.coin] ??= []).push(e);
  return out;
}

function fillsOf(block: SimBlock, user: string): NodeFill[] {
  return block.fills.filter(([u]) => u === user).map(([, f]) => f);
}

const BLOCKS = 400;

Deno.test("per-user streams equal the simulator's events at every block", async (t) => {
  const h = new SimFeed({ seed: 11, load: 0.6 });
  const warmup: SimBlock[] = [];
  for (let i = 0; i < 60; i++) warmup.push(h.step());
  const users = activeUsers(warmup, 4);
  assert.equal(users.length, 4);
  // One address is sent in upper case: matching is case-insensitive, the echo keeps what was sent.
  const sent = users.map((u, i) => i === 1 ? `0x${u.slice(2).toUpperCase()}` : u);
  const watcher = h.connect(
    ...sent.flatMap((user) => [{ type: "orderUpdates", user }, { type: "userFills", user }, {
      type: "userEvents",
      user,
    }]),
  );
  const second = h.connect({ type: "orderUpdates", user: sent[0] }, { type: "userFills", user: users[0] });
  const start = h.blocks.length;
  for (let i = 0; i < BLOCKS; i++) h.step();
  const blocks = h.blocks.slice(start).map((b) => b.block);

  await t.step("every subscription is acknowledged with the subscription as sent", () => {
    const acks = watcher.sink.of("subscriptionResponse").map((m) => m.data.subscription);
    assert.equal(acks.length, 12);
    assert.deepEqual(acks[3], { type: "orderUpdates", user: sent[1] });
    assert.equal(watcher.sink.of("error").length, 0);
  });

  await t.step("userFills starts with a snapshot of the user's recent fills, newest first", () => {
    for (const user of users) {
      const snap = watcher.sink.of("userFills").find((m) => m.data.user === user && m.data.isSnapshot);
      assert.ok(snap, `snapshot for ${user}`);
      const expected = warmup.flatMap((b) => fillsOf(b, user)).reverse();
      assert.deepEqual(snap.data.fills, expected);
    }
  });

  // Which user each oid of these blocks belongs to (to attribute messages to users).
  const owner = new Map<number, string>();
  for (const b of blocks) for (const st of b.statuses) owner.set(st.order.oid, st.user);
  const ownerOf = (text: string) => owner.get(JSON.parse(text).data[0]?.order.oid);

  await t.step("orderUpdates: one message per block with each of the user's statuses", () => {
    let messages = 0;
    const texts = watcher.sink.texts.filter((t) => t.startsWith('{"channel":"orderUpdates"'));
    for (const user of users) {
      const mine = texts.filter((t) => ownerOf(t) === user).map((t) => JSON.parse(t));
      const expectedBlocks = blocks.filter((b) => b.statuses.some((s) => s.user === user));
      assert.equal(mine.length, expectedBlocks.length, `messages for ${user}`);
      for (let i = 0; i < expectedBlocks.length; i++) {
        const expected = expectedBlocks[i].statuses.filter((s) => s.user === user).map(wsOrder);
        assert.deepEqual(
          byCoin(mine[i].data),
          byCoin(expected),
          `block ${expectedBlocks[i].height}`,
        );
        messages++;
      }
    }
    assert.ok(messages > 50, `only ${messages} orderUpdates messages checked`);
  });

  await t.step(
    "userFills and userEvents: one message per block with the user's fills as the node wrote them",
    () => {
      let fills = 0;
      for (const user of users) {
        const live = watcher.sink.of("userFills").filter((m) => m.data.user === user && !m.data.isSnapshot);
        const events = watcher.sink.of("user");
        const expectedBlocks = blocks.filter((b) => fillsOf(b, user).length > 0);
        assert.equal(live.length, expectedBlocks.length, `userFills messages for ${user}`);
        for (let i = 0; i < expectedBlocks.length; i++) {
          const expected = fillsOf(expectedBlocks[i], user);
          assert.deepEqual(live[i].data, { user, fills: expected });
          assert.ok(events.some((m) => JSON.stringify(m.data) === JSON.stringify({ fills: expected })));
          fills += expected.length;
        }
      }
      assert.ok(fills > 20, `only ${fills} fills checked`);
    },
  );

  await t.step("fills keep the node's field order and full field set", () => {
    const text = watcher.sink.texts.find((t) => t.startsWith('{"channel":"userFills","data":{"user"'));
    assert.ok(text);
    const fill = JSON.parse(text).data.fills[0];
    const keys = Object.keys(fill).filter((k) => k !== "cloid" && k !== "liquidation");
    assert.deepEqual(keys, [
      "coin",
      "px",
      "sz",
      "side",
      "time",
      "startPosition",
      "dir",
      "closedPnl",
      "hash",
      "oid",
      "crossed",
      "fee",
      "tid",
      "feeToken",
      "twapId",
    ]);
  });

  await t.step("a second subscriber of the same user gets the very same text", () => {
    const a = watcher.sink.texts.filter((t) =>
      t.startsWith('{"channel":"orderUpdates"') && ownerOf(t) === users[0]
    );
    const b = second.sink.texts.filter((t) => t.startsWith('{"channel":"orderUpdates"'));
    assert.ok(a.length > 5);
    assert.deepEqual(b, a);
  });

  await t.step("info userFills and userFillsByTime answer from the history", () => {
    const all = [...warmup, ...blocks];
    for (const user of users) {
      const expected = all.flatMap((b) => fillsOf(b, user));
      assert.deepEqual(
        h.info({ type: "userFills", user: sent[users.indexOf(user)] }),
        [...expected].reverse(),
      );
      const from = blocks[100].time;
      const to = blocks[300].time;
      const ranged = expected.filter((f) => f.time >= from && f.time <= to);
      assert.deepEqual(h.info({ type: "userFillsByTime", user, startTime: from, endTime: to }), ranged);
      assert.deepEqual(
        h.info({ type: "userFillsByTime", user, startTime: from, endTime: to, reversed: true }),
        [...ranged].reverse(),
      );
    }
    assert.deepEqual(h.info({ type: "userFills", user: `0x${"ab".repeat(20)}` }), []);
  });
});

Deno.test("openOrders and frontendOpenOrders equal the user's resting orders in the simulator", () => {
  const h = new SimFeed({ seed: 5, load: 0.5 });
  const warm: SimBlock[] = [];
  for (let i = 0; i < 50; i++) warm.push(h.step());
  const users = activeUsers(warm, 5);
  let checked = 0;
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 40; i++) h.step();
    const snapshot = h.sim.snapshot();
    for (const user of users) {
      const expected = snapshot[1].flatMap(([, [bids, asks]]) => [...bids, ...asks])
        .filter(([u]) => u === user).map(([, o]) => o).sort((a, b) => b.oid - a.oid);
      const open = h.info({ type: "openOrders", user });
      assert.deepEqual(
        open,
        expected.map((o) => ({
          coin: o.coin,
          side: o.side,
          limitPx: o.limitPx,
          sz: o.sz,
          oid: o.oid,
          timestamp: o.timestamp,
          origSz: o.origSz,
          ...(o.cloid ? { cloid: o.cloid } : {}),
        })),
      );
      const front = h.info({ type: "frontendOpenOrders", user: user.toUpperCase().replace("0X", "0x") });
      assert.deepEqual(
        front,
        expected.map((o) => ({ ...o, children: [] })).map((o) => ({
          coin: o.coin,
          side: o.side,
          limitPx: o.limitPx,
          sz: o.sz,
          oid: o.oid,
          timestamp: o.timestamp,
          origSz: o.origSz,
          triggerCondition: o.triggerCondition,
          isTrigger: o.isTrigger,
          triggerPx: o.triggerPx,
          children: [],
          isPositionTpsl: o.isPositionTpsl,
          reduceOnly: o.reduceOnly,
          orderType: o.orderType,
          tif: o.tif,
          cloid: o.cloid,
        })),
      );
      if (expected.length > 0) {
        const status = h.info({ type: "orderStatus", user, oid: expected[0].oid });
        assert.equal(status.status, "order");
        assert.equal(status.order.status, "open");
        assert.equal(status.order.order.oid, expected[0].oid);
        if (expected[0].cloid) {
          assert.equal(
            h.info({ type: "orderStatus", user, oid: expected[0].cloid }).order.order.oid,
            expected[0].oid,
          );
        }
      }
      checked += expected.length;
    }
  }
  assert.ok(checked > 100, `only ${checked} resting orders compared`);
  assert.deepEqual(h.info({ type: "orderStatus", user: users[0], oid: 1 }), { status: "unknownOid" });
});

Deno.test("a watched user's ended order is answered by orderStatus with its final status", () => {
  const h = new SimFeed({ seed: 9, load: 0.5 });
  const warm: SimBlock[] = [];
  for (let i = 0; i < 40; i++) warm.push(h.step());
  const [user] = activeUsers(warm, 1);
  h.connect({ type: "orderUpdates", user });
  let ended: NodeStatusEvent | null = null;
  for (let i = 0; i < 200 && ended === null; i++) {
    const b = h.step();
    ended = b.statuses.find((s) => s.user === user && (s.status === "canceled" || s.status === "filled")) ??
      null;
  }
  assert.ok(ended);
  const answer = h.info({ type: "orderStatus", user, oid: ended.order.oid });
  assert.equal(answer.status, "order");
  assert.equal(answer.order.status, ended.status);
  assert.equal(answer.order.order.oid, ended.order.oid);
  assert.equal(answer.order.statusTimestamp, Date.parse(`${ended.time.slice(0, 23)}Z`));
});

Deno.test("malformed addresses and intervals get the official parse error and the connection goes on", () => {
  const h = new SimFeed({ seed: 3, load: 0.2 });
  const { sink } = h.connect(
    { type: "orderUpdates", user: "0x123" },
    { type: "userFills", user: 42 },
    { type: "candle", coin: "BTC", interval: "2m" },
    { type: "candle", coin: "NOPE", interval: "1m" },
    { type: "userEvents", user: `0x${"1".repeat(40)}` },
  );
  const errors = sink.of("error").map((m) => m.data);
  assert.equal(errors.length, 4);
  assert.match(errors[0], /^Error parsing JSON into valid websocket request: /);
  assert.match(errors[1], /^Error parsing JSON into valid websocket request: /);
  assert.match(errors[2], /^Error parsing JSON into valid websocket request: /);
  assert.equal(errors[3], 'Invalid subscription {"type":"candle","coin":"NOPE","interval":"1m"}');
  assert.equal(sink.of("subscriptionResponse").length, 1);
});
