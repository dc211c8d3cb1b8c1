/**
 * How the link messages (`src/link`) travel over NATS (docs/scale-out.md): which subject each goes on, what
 * its headers hold, and the stream and buckets a deployment uses. One place for the names both roles share.
 *
 * - A `BlockOutput` is split into one NATS message per view message, on the view's subject
 *   (`subjects.ts`), with the block height and time and the message's kind in headers and
 *   `<height>:<view key>:<n>` as its JetStream message id. The stream `HLBOOK_BLOCKS` stores every one of
 *   them (it takes `hlbook.v1.>`), so a restarted core's re-publish is dropped by JetStream's duplicate window
 *   and an edge can replay a view from a height.
 * - Control traffic (the core's status, a marker per block, snapshot and info requests) is on `hlbook.ctl.*`,
 *   outside the stream: it is about now, never replayed.
 *
 * @module
 */
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import type { CoreStatus, SnapshotReply } from "../link/mod.ts";
import { SUBJECT_PREFIX } from "./subjects.ts";

/** The stream of block outputs. */
export const STREAM = "HLBOOK_BLOCKS";
/** What the stream stores: every view subject of this layout. */
export const STREAM_SUBJECTS = `${SUBJECT_PREFIX}.>`;
/** The KV bucket of the edges' view leases (`leases.ts`). */
export const LEASE_BUCKET = "hlbook_leases";
/** The KV bucket of the core lock (`lock.ts`). */
export const LOCK_BUCKET = "hlbook_lock";

/** The core's status, on every change and once a second (edges see from it that the core is alive). */
export const STATUS_SUBJECT = "hlbook.ctl.status";
/** One marker per block height the core published, after the block's messages: edges detect gaps by it. */
export const BLOCK_SUBJECT = "hlbook.ctl.block";
/** Request: the first messages of a view (`SnapshotRequest` → `SnapshotReply`). */
export const SNAPSHOT_SUBJECT = "hlbook.ctl.snapshot";
/** Request: an info answer (`InfoQuery` → `InfoReply`, `AssetCtxQuery` → `AssetCtxReply`). */
export const INFO_SUBJECT = "hlbook.ctl.info";
/** Request: the core's current status (an edge that just connected or reconnected). */
export const HELLO_SUBJECT = "hlbook.ctl.hello";

export const HEIGHT_HEADER = "Hlbook-Height";
export const TIME_HEADER = "Hlbook-Time";
export const KIND_HEADER = "Hlbook-Kind";
/**
 * The height of the view's previous message from this core, when it is known that every message of the view
 * since then is in the stream: absent after a gap in publishing (NATS away, lock lost). On the first message
 * after the core began computing a view, the height it began at. A resume replays only a chain that links.
 */
export const PREV_HEADER = "Hlbook-Prev";
/** JetStream's duplicate detection header. */
export const MSG_ID_HEADER = "Nats-Msg-Id";

/**
 * Which list of a `BlockOutput` a view message came from: `v` conflatable views, `l` l4Book Updates, `q`
 * queued (trades and per-user streams). The edge's send policy differs by it.
 */
export type EntryKind = "v" | "l" | "q";

/** The core's status as published: the link's `CoreStatus` plus which core (a restart is a new one). */
export interface WireStatus extends CoreStatus {
  readonly core: string;
}

/** What the headers of one view message say. */
export interface Entry {
  readonly height: number;
  readonly time: number;
  readonly kind: EntryKind;
  readonly id: string;
  /** See {@link PREV_HEADER}; null when absent. */
  readonly prev: number | null;
}

/**
 * A snapshot answer as published: the link's `SnapshotReply` plus the view's `Hlbook-Prev` at the moment of the
 * answer (the height of the last message the core published on the view before it), which tells a resuming
 * edge where the live messages take over.
 */
export interface WireSnapshotReply extends SnapshotReply {
  readonly prev: number | null;
}

/** Headers of one view message. */
export function entryHeaders(entry: Entry): MsgHdrs {
  const h = headers();
  h.set(HEIGHT_HEADER, String(entry.height));
  h.set(TIME_HEADER, String(entry.time));
  h.set(KIND_HEADER, entry.kind);
  h.set(MSG_ID_HEADER, entry.id);
  if (entry.prev !== null) h.set(PREV_HEADER, String(entry.prev));
  return h;
}

/** What a view message's headers say, or null when they are not ones the core writes. */
export function readEntry(h: MsgHdrs | undefined): Entry | null {
  if (h === undefined) return null;
  const height = Number(h.get(HEIGHT_HEADER));
  const time = Number(h.get(TIME_HEADER));
  const kind = h.get(KIND_HEADER);
  if (!Number.isSafeInteger(height) || !Number.isFinite(time)) return null;
  if (kind !== "v" && kind !== "l" && kind !== "q") return null;
  const rawPrev = h.get(PREV_HEADER);
  const prev = rawPrev === "" ? null : Number(rawPrev);
  if (prev !== null && !Number.isSafeInteger(prev)) return null;
  return { height, time, kind, id: h.get(MSG_ID_HEADER), prev };
}

/** Retention of the stream: how far back edges can replay (resume) and what it may cost the server. */
export interface Retention {
  /** Milliseconds a message is kept. */
  readonly maxAgeMs: number;
  readonly maxBytes: number;
}

/** The stream's configuration (created or updated by the core). */
export function streamConfig(retention: Retention) {
  return {
    name: STREAM,
    subjects: [STREAM_SUBJECTS],
    max_age: retention.maxAgeMs * 1_000_000,
    max_bytes: retention.maxBytes,
    // A restarted core re-publishing what it published in the last two minutes stores nothing twice (JetStream
    // wants the window within the age limit).
    duplicate_window: Math.min(120_000, retention.maxAgeMs) * 1_000_000,
  };
}
