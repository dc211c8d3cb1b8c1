/**
 * The simulated Hyperliquid node: a seeded mini exchange (`Simulator`), its node-file writer and a runner
 * with the node's info server (`startSimNode`). Used by `deno task demo`, `deno task sim`, the end-to-end
 * tests and the benchmarks.
 *
 * @module
 */
export { AF_USER, blockLines, HIP2_USER, Simulator, toBlockInput } from "./engine.ts";
export type { NodeFill, NodeFillEvent, NodeStatusEvent, SimBlock, SimOptions } from "./engine.ts";
export { type CoinSpec, DEFAULT_COINS, makeCoins, validPrice } from "./coins.ts";
export { formatNodeTime, formatUnits, hourlyPath, parseUnits } from "./decimal.ts";
export { batchLine, NodeFileWriter, type NodeFileWriterOptions, type Stream, STREAMS } from "./writer.ts";
export { handleInfo, type SimNode, type SimNodeOptions, startSimNode } from "./node.ts";
export { type SimMeta, simMeta } from "./meta.ts";
export { pruneHourlyFiles } from "./prune.ts";
