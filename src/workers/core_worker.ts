/**
 * The core worker's entry: ingest (tail, snapshot load, validation, re-sync, the fills backfill) and the
 * core run here, off the thread that serves clients, so a 1 M-order snapshot load or a slow block never stalls
 * a socket. The edges' ports meet the core in a {@link CoreHub}; the core's report (ingest's reason, metrics)
 * goes to every edge every 250 ms and on request.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { CoreToEdge } from "../link/mod.ts";
import { logger, setupLogging } from "../log.ts";
import { Metrics } from "../metrics.ts";
import type { FromCore, ToCore } from "./control.ts";
import { type RunningIngest, startFeedIngest, streamLimits } from "./wiring.ts";
import { CoreHub } from "./core_hub.ts";

/** How often the core's reason and metrics go to the edges (ms). */
const REPORT_MS = 250;

let hub: CoreHub | null = null;
let ingest: RunningIngest | null = null;
let reporter: ReturnType<typeof setInterval> | undefined;
const post = (message: FromCore) => self.postMessage(message);

self.onmessage = async (event: MessageEvent<ToCore>) => {
  const message = event.data;
  switch (message.kind) {
    case "start": {
      const config = message.config;
      await setupLogging(config.logLevel, config.logFormat);
      const metrics = new Metrics();
      const report = (id: number | null): CoreToEdge => ({
        kind: "report",
        id,
        reason: ingest?.reason ?? null,
        metrics: metrics.samples(),
      });
      const core = hub = new CoreHub({ metrics, streams: streamLimits(config), report });
      for (const edge of message.edges) core.add(edge.id, edge.port);
      ingest = startFeedIngest(config, core.core, metrics, () => post({ kind: "exit", code: 1 }));
      reporter = setInterval(() => core.broadcast(report(null)), REPORT_MS);
      logger("core").debug("core worker started with {edges} edge(s)", { edges: message.edges.length });
      return;
    }
    case "addEdge":
      hub?.add(message.edge.id, message.edge.port);
      return;
    case "dropEdge":
      hub?.drop(message.id);
      return;
    case "stop": {
      clearInterval(reporter);
      const running = ingest;
      await running?.stop();
      post({ kind: "stopped", height: running?.height ?? 0, phase: running?.state.phase ?? "starting" });
      return;
    }
    case "crash":
      setTimeout(() => {
        throw new Error("core worker crash requested (HLBOOK_DEBUG_CRASH)");
      }, 0);
      return;
  }
};
