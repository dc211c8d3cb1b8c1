/**
 * Are the node's files where hlbook looks for them? A wrong `--data-dir`, or a node started without the flags
 * that write these folders, otherwise shows only as a feed that never moves: this says once, at start-up,
 * what is missing and which node flags write it, keeps looking, and says when the files appear.
 *
 * @module
 */
import { logger } from "../log.ts";
import { streamDirs } from "./pipeline.ts";

const log = logger("ingest");

/** The node flags that make it write the folders of a mode (per the node's README). */
export function nodeFlags(mode: "by-block" | "streaming"): string {
  const flags = "--write-order-statuses --write-raw-book-diffs --write-fills";
  return mode === "by-block" ? `${flags} --batch-by-block` : flags;
}

/** What is missing, or null when the two folders hlbook needs (statuses and diffs) exist. */
export async function missingNodeFiles(
  dataDir: string,
  mode: "by-block" | "streaming",
): Promise<string | null> {
  const dirs = streamDirs(mode);
  const needed = [dirs.statuses, dirs.diffs, dirs.fills];
  let present: Set<string>;
  try {
    const info = await Deno.stat(dataDir);
    if (!info.isDirectory) return `--data-dir ${dataDir} is not a directory`;
    present = new Set();
    for await (const entry of Deno.readDir(dataDir)) if (entry.isDirectory) present.add(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `--data-dir ${dataDir} does not exist`;
    return `--data-dir ${dataDir} cannot be read: ${error instanceof Error ? error.message : error}`;
  }
  // Fills only make trades; the book needs statuses and diffs.
  const missing = needed.slice(0, 2).filter((name) => !present.has(name));
  if (missing.length === 0) return null;
  const other = streamDirs(mode === "by-block" ? "streaming" : "by-block");
  const hint = present.has(other.statuses) && present.has(other.diffs)
    ? `; it holds ${other.statuses.replace("order_statuses", "*")} folders: run hlbook with --ingest ${
      mode === "by-block" ? "streaming" : "by-block"
    }`
    : "";
  return `--data-dir ${dataDir} holds no ${missing.join(" or ")} folder${hint}`;
}

/** The whole message for an operator: what is missing, what hlbook reads, which node flags write it. */
export function nodeFilesHelp(problem: string, mode: "by-block" | "streaming"): string {
  const dirs = streamDirs(mode);
  return `${problem}. hlbook reads ${dirs.statuses}/, ${dirs.diffs}/ and ${dirs.fills}/ (hourly files) ` +
    `from the node's data directory (usually ~/hl/data); start the node with ${nodeFlags(mode)}` +
    " and point --data-dir at that directory. Still looking.";
}

/** A running check of the data dir. */
export interface NodeFilesWatch {
  /** The current problem (null once the folders are there). */
  readonly problem: string | null;
  stop(): void;
}

/**
 * Checks now and every `interval` ms: logs the first problem as one warning, stays quiet while it lasts (or
 * logs a changed problem once), and logs when the folders appear.
 */
export function watchNodeFiles(
  dataDir: string,
  options: { readonly mode: "by-block" | "streaming"; readonly interval?: number },
): NodeFilesWatch {
  let problem: string | null = null;
  let stopped = false;
  let running = false;
  const check = async () => {
    if (running || stopped) return;
    running = true;
    try {
      const now = await missingNodeFiles(dataDir, options.mode);
      if (stopped || now === problem) return;
      if (now !== null) log.warn("{message}", { message: nodeFilesHelp(now, options.mode) });
      else if (problem !== null) log.info("node files found in {dataDir}: following them", { dataDir });
      problem = now;
    } finally {
      running = false;
    }
  };
  check();
  const timer = setInterval(check, options.interval ?? 2000);
  return {
    get problem() {
      return problem;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
