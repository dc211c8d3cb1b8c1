/**
 * Writes simulated blocks as a node's output files under a data dir: the by-block files
 * (`node_fills_by_block`, `node_raw_book_diffs_by_block`, `node_order_statuses_by_block`, one line per block,
 * written in that order) and optionally the streaming files (one event per line), rotated hourly by the
 * line's `local_time`.
 *
 * @module
 */
import { join } from "node:path";
import type { SimBlock } from "./engine.ts";
import { hourlyPath } from "./decimal.ts";
import { batchJson } from "./serialize.ts";

/** The three streams in the node's write order. */
export const STREAMS = ["fills", "diffs", "statuses"] as const;
/** One of the node's three streams. */
export type Stream = typeof STREAMS[number];

const BY_BLOCK_DIR: Record<Stream, string> = {
  fills: "node_fills_by_block",
  diffs: "node_raw_book_diffs_by_block",
  statuses: "node_order_statuses_by_block",
};
const STREAMING_DIR: Record<Stream, string> = {
  fills: "node_fills_streaming",
  diffs: "node_raw_book_diffs_streaming",
  statuses: "node_order_statuses_streaming",
};

const encoder = new TextEncoder();

/** An append-only file that follows the hourly path of the lines written to it. */
class HourlyFile {
  #path = "";
  #file: Deno.FsFile | null = null;
  constructor(readonly dir: string) {}

  append(localTime: string, text: string): void {
    const path = join(this.dir, "hourly", hourlyPath(localTime));
    if (path !== this.#path) {
      this.close();
      Deno.mkdirSync(join(path, ".."), { recursive: true });
      this.#file = Deno.openSync(path, { append: true, create: true });
      this.#path = path;
    }
    const bytes = encoder.encode(text);
    let off = 0;
    // deno-lint-ignore no-non-null-assertion
    while (off < bytes.length) off += this.#file!.writeSync(bytes.subarray(off));
  }

  get path(): string {
    return this.#path;
  }

  close(): void {
    this.#file?.close();
    this.#file = null;
    this.#path = "";
  }
}

/** Options of `NodeFileWriter`. */
export interface NodeFileWriterOptions {
  /** Write the by-block files (default true). */
  readonly byBlock?: boolean;
  /** Write the streaming files too (default false). */
  readonly streaming?: boolean;
}

/** Writes blocks into a node data dir (`<dataDir>/node_*_by_block/hourly/YYYYMMDD/H`). */
export class NodeFileWriter {
  readonly #byBlock: Record<Stream, HourlyFile> | null;
  readonly #streaming: Record<Stream, HourlyFile> | null;
  #height = 0;

  constructor(readonly dataDir: string, options: NodeFileWriterOptions = {}) {
    const files = (dirs: Record<Stream, string>) => ({
      fills: new HourlyFile(join(dataDir, dirs.fills)),
      diffs: new HourlyFile(join(dataDir, dirs.diffs)),
      statuses: new HourlyFile(join(dataDir, dirs.statuses)),
    });
    this.#byBlock = options.byBlock === false ? null : files(BY_BLOCK_DIR);
    this.#streaming = options.streaming ? files(STREAMING_DIR) : null;
  }

  /** Height of the last block whose lines are all written (0 before the first). */
  get height(): number {
    return this.#height;
  }

  /** Append one block at once: fills, then diffs, then statuses (each a complete line). */
  write(block: SimBlock): void {
    for (const stream of STREAMS) {
      const text = this.#byBlockText(block, stream);
      if (text !== null) this.#byBlock?.[stream].append(block.localTime[stream], text);
      this.#writeStreaming(block, stream);
    }
    this.#height = block.height;
  }

  /**
   * Append one block the way a live node does: each stream's line at a different moment, and each line in
   * two writes, so readers see half-written lines. `pause` is awaited between writes.
   */
  async writeStaggered(block: SimBlock, pause: () => Promise<void>): Promise<void> {
    for (const stream of STREAMS) {
      const text = this.#byBlockText(block, stream);
      if (text !== null) {
        const file = this.#byBlock?.[stream];
        const cut = 1 + Math.floor(Math.random() * (text.length - 1));
        file?.append(block.localTime[stream], text.slice(0, cut));
        await pause();
        file?.append(block.localTime[stream], text.slice(cut));
      }
      this.#writeStreaming(block, stream);
      await pause();
    }
    this.#height = block.height;
  }

  #byBlockText(block: SimBlock, stream: Stream): string | null {
    if (!this.#byBlock) return null;
    return batchJson(block.localTime[stream], block.blockTime, block.height, block[stream]) + "\n";
  }

  #writeStreaming(block: SimBlock, stream: Stream): void {
    const events: readonly unknown[] = block[stream];
    if (!this.#streaming || events.length === 0) return;
    const localTime = block.localTime[stream];
    let text = "";
    for (const event of events) text += batchJson(localTime, block.blockTime, block.height, [event]) + "\n";
    this.#streaming[stream].append(localTime, text);
  }

  /** The by-block file each stream currently appends to (empty before the first write). */
  currentPaths(): Record<Stream, string> {
    return {
      fills: this.#byBlock?.fills.path ?? "",
      diffs: this.#byBlock?.diffs.path ?? "",
      statuses: this.#byBlock?.statuses.path ?? "",
    };
  }

  close(): void {
    for (const group of [this.#byBlock, this.#streaming]) {
      if (!group) continue;
      for (const stream of STREAMS) group[stream].close();
    }
  }
}

/** One node batch line (without newline): `{local_time, block_time, block_number, events}`. */
export function batchLine(block: SimBlock, localTime: string, events: readonly unknown[]): string {
  return JSON.stringify({
    local_time: localTime,
    block_time: block.blockTime,
    block_number: block.height,
    events,
  });
}
