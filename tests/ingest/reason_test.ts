import assert from "node:assert/strict";
import { notReadyReason, type ReasonInput } from "../../src/ingest/reason.ts";
import { SnapshotError } from "../../src/ingest/mod.ts";

const base: ReasonInput = {
  phase: "ready",
  nodeFiles: null,
  snapshotTries: 0,
  snapshotError: null,
  resyncReason: null,
  silentMs: 0,
};

Deno.test("/health says in one line why the feed is not ready", async (t) => {
  await t.step("ready with the node's files there: no reason", () => {
    assert.equal(notReadyReason(base), null);
  });
  await t.step("no snapshot yet: the failure and the count of tries", () => {
    const unreachable = new SnapshotError("info server x unreachable: refused", "unreachable");
    assert.equal(
      notReadyReason({ ...base, phase: "starting", snapshotTries: 12, snapshotError: unreachable }),
      "no snapshot yet: info server unreachable (12 tries)",
    );
    assert.equal(
      notReadyReason({ ...base, phase: "starting", snapshotTries: 1, snapshotError: unreachable }),
      "no snapshot yet: info server unreachable (1 try)",
    );
    assert.equal(
      notReadyReason({ ...base, phase: "starting" }),
      "no snapshot yet: waiting for the node's info server",
    );
  });
  await t.step("a silent node: for how long, and a missing data dir when that is why", () => {
    assert.equal(notReadyReason({ ...base, phase: "stale", silentMs: 9_200 }), "node wrote nothing for 9 s");
    assert.equal(
      notReadyReason({ ...base, phase: "stale", silentMs: 9_200, nodeFiles: "--data-dir /x does not exist" }),
      "node wrote nothing for 9 s; --data-dir /x does not exist",
    );
    assert.equal(
      notReadyReason({ ...base, nodeFiles: "--data-dir /x does not exist" }),
      "no node files: --data-dir /x does not exist",
    );
  });
  await t.step("a re-sync names what started it", () => {
    assert.equal(
      notReadyReason({ ...base, phase: "resyncing", resyncReason: "block gap 985148199 → 985148201" }),
      "re-syncing after block gap 985148199 → 985148201",
    );
    const file = new SnapshotError("cannot read", "file");
    assert.match(
      notReadyReason({
        ...base,
        phase: "resyncing",
        resyncReason: "x",
        snapshotTries: 2,
        snapshotError: file,
      }) ??
        "",
      /^re-syncing after x; no snapshot yet: snapshot file not readable .* \(2 tries\)$/,
    );
  });
});
