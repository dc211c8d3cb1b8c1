/**
 * The messages between the main thread (which supervises) and its workers: start, link an edge to the core,
 * stop. The feed's own messages (core ↔ edge) are `src/link`'s and go over ports of their own.
 *
 * @module
 */
import type { Config } from "../../config.ts";
import type { MetricSample } from "../metrics.ts";
import type { PeerMetrics, Phase } from "../feed/mod.ts";

/** How often an edge worker's metrics go to the main thread, and the others' to it (ms). */
export const EDGE_METRICS_MS = 250;

/** Main thread → core worker. */
export type ToCore =
  /** Start ingest and the core; `edges`: one port per edge (edge id → its end of the link). */
  | { readonly kind: "start"; readonly config: Config; readonly edges: readonly EdgePort[] }
  | { readonly kind: "addEdge"; readonly edge: EdgePort }
  | { readonly kind: "dropEdge"; readonly id: number }
  | { readonly kind: "stop" }
  /** Test-only (`HLBOOK_DEBUG_CRASH=1` and SIGUSR2): the worker throws, as a bug would. */
  | { readonly kind: "crash" };

export interface EdgePort {
  readonly id: number;
  readonly port: MessagePort;
}

/** Core worker → main thread. */
export type FromCore =
  | { readonly kind: "exit"; readonly code: number }
  | { readonly kind: "stopped"; readonly height: number; readonly phase: Phase };

/** Main thread → edge worker. */
export type ToEdge =
  | {
    readonly kind: "start";
    readonly config: Config;
    readonly authToken: string;
    readonly port: number;
    /** This edge's number (1…; the main thread's is 0). */
    readonly edge: number;
  }
  /** A (new) core: its end of the link. */
  | { readonly kind: "link"; readonly port: MessagePort }
  | { readonly kind: "coreLost" }
  /** The other edges' metrics (and so their clients and subscriptions). */
  | { readonly kind: "peers"; readonly peers: readonly PeerMetrics[] }
  | { readonly kind: "stop" }
  /** Test-only (`HLBOOK_DEBUG_CRASH=1` and SIGUSR1): the worker throws, as a bug would. */
  | { readonly kind: "crash" };

/** Edge worker → main thread. */
export type FromEdge =
  | { readonly kind: "listening" }
  | { readonly kind: "failed"; readonly error: string }
  | { readonly kind: "metrics"; readonly samples: readonly MetricSample[] }
  | { readonly kind: "stopped" };
