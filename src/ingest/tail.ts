/**
 * Follows one node stream's hourly files (`<dir>/hourly/YYYYMMDD/H`) the way `tail -F` would, line by line.
 *
 * `Deno.watchFs` wakes the reader as soon as the node writes; a short poll is the safety net for coalesced or
 * missed watch events, so no line is ever lost. The followed file stays open and a wake-up only reads on from
 * the last offset; whether the file was replaced, deleted or truncated, and whether a newer hourly file exists,
 * is checked on a slower cadence (every `fullInterval` ms) and on watch events about other paths. An
 * incomplete trailing line is kept until its newline arrives; on rotation the old file is finished before the
 * next one (next hour, or the next date directory after midnight) is opened.
 *
 * @module
 */
import { logger } from "../log.ts";

const log = logger("ingest");

/** One complete line of a stream file. */
export interface TailLine {
  /** Path of the file the line is in. */
  readonly file: string;
  /** Byte offset of the line's first byte in that file. */
  readonly offset: number;
  /**
   * The line's bytes without its newline, undecoded (the parsers check UTF-8). They are the line's own: the
   * tailer never writes to them again, so parsed events may keep views of them.
   */
  readonly bytes: Uint8Array;
}

/** Something that means lines may have been lost: the consumer should re-sync. */
export interface TailFault {
  readonly kind: "truncated" | "replaced" | "deleted" | "unfinished";
  readonly file: string;
  readonly offset: number;
  readonly message: string;
}

/** How to follow a stream. */
export interface TailOptions {
  /** Read existing files from their beginning (replay, tests) instead of starting at the newest file's end. */
  readonly fromStart?: boolean;
  /** Use `Deno.watchFs` to wake up at once (default true); false leaves only the poll. */
  readonly watch?: boolean;
  /** Safety-net poll period in ms (default 100): reads on from the last offset. */
  readonly pollInterval?: number;
  /**
   * Period in ms of the full check: replaced, deleted or truncated file, newer hourly file (default 10 poll
   * periods, at least 500 ms). Watch events about other paths trigger it at once.
   */
  readonly fullInterval?: number;
  /** Complete lines, in file order, as soon as they are read. */
  readonly onLines: (lines: readonly TailLine[]) => void;
  /** A truncated, replaced or deleted file, or a file left with an unfinished line. */
  readonly onFault?: (fault: TailFault) => void;
}

interface Position {
  readonly date: string;
  readonly hour: number;
}

const NEWLINE = 0x0a;
const READ_CHUNK = 1024 * 1024;

function fileName(dir: string, position: Position): string {
  return `${dir}/hourly/${position.date}/${position.hour}`;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

async function listNames(path: string, isDir: boolean): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (isDir ? entry.isDirectory : entry.isFile) names.push(entry.name);
    }
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  return names;
}

async function listDates(dir: string): Promise<string[]> {
  return (await listNames(`${dir}/hourly`, true)).filter((name) => /^\d{8}$/.test(name)).sort();
}

async function listHours(dir: string, date: string): Promise<number[]> {
  return (await listNames(`${dir}/hourly/${date}`, false))
    .filter((name) => /^(\d|1\d|2[0-3])$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Every hourly file of a stream directory, oldest first (`<dir>/hourly/YYYYMMDD/H`, H = 0..23; other names are
 * not node files): the order the tailer follows them in, and the order `replay` reads them in.
 */
export async function listStreamFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const date of await listDates(dir)) {
    for (const hour of await listHours(dir, date)) files.push(fileName(dir, { date, hour }));
  }
  return files;
}

/** The pieces of an unfinished line. */
class Partial {
  #pieces: Uint8Array[] = [];
  length = 0;
  add(piece: Uint8Array): void {
    this.#pieces.push(piece);
    this.length += piece.length;
  }
  clear(): void {
    this.#pieces = [];
    this.length = 0;
  }
  /** The pieces followed by `last`, as one line; leaves the partial empty. */
  take(last: Uint8Array): Uint8Array {
    const line = new Uint8Array(this.length + last.length);
    let at = 0;
    for (const piece of this.#pieces) {
      line.set(piece, at);
      at += piece.length;
    }
    line.set(last, at);
    this.clear();
    return line;
  }
}

/** Follows one stream directory; see the module doc. Create with `tail()`. */
export class Tailer {
  readonly #dir: string;
  readonly #options: TailOptions;
  #position: Position | null = null;
  #offset = 0;
  #ino: number | null = null;
  /** The followed file, open at `#offset` (null until opened, or while it is missing). */
  #file: Deno.FsFile | null = null;
  /** Reused read buffer: what a read got is copied out before the next read. */
  readonly #buffer = new Uint8Array(READ_CHUNK);
  #lastFull = 0;
  /** Bytes of an unfinished line, as read (joined once its newline arrives: no quadratic copying). */
  #partial = new Partial();
  #initialized = false;
  #missing = false;
  #stopped = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #watcher: Deno.FsWatcher | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #lookAround = true;
  #errorLogged = false;

  constructor(dir: string, options: TailOptions) {
    this.#dir = dir;
    this.#options = options;
  }

  /** The file being followed and the offset read up to (null before the first file exists). */
  get position(): { readonly file: string; readonly offset: number } | null {
    return this.#position && { file: fileName(this.#dir, this.#position), offset: this.#offset };
  }

  /** Starts following (idempotent). */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const poll = this.#options.pollInterval ?? 100;
    const full = this.#options.fullInterval ?? Math.max(500, 10 * poll);
    this.#lastFull = Date.now();
    this.#timer = setInterval(() => {
      const now = Date.now();
      const due = now - this.#lastFull >= full;
      if (due) this.#lastFull = now;
      this.poke(due);
    }, poll);
    this.poke(true);
  }

  /**
   * Asks for an immediate check. `lookAround` also checks the followed path (replaced, deleted, truncated) and
   * lists the directories for a newer file (slow poll ticks and watch events about other paths); an event
   * about the followed file only needs a read.
   */
  poke(lookAround = true): void {
    if (this.#stopped) return;
    if (lookAround) this.#lookAround = true;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop();
  }

  /** Stops watching and polling; resolves when any read in progress is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#closeWatcher();
    await this.#running;
    this.#closeFile();
  }

  #closeFile(): void {
    const file = this.#file;
    this.#file = null;
    try {
      file?.close();
    } catch {
      // already closed
    }
  }

  async #loop(): Promise<void> {
    try {
      do {
        this.#again = false;
        this.#ensureWatcher();
        try {
          await this.#check();
          this.#errorLogged = false;
        } catch (error) {
          if (!this.#errorLogged) {
            this.#errorLogged = true;
            log.error("reading {dir} failed: {error}", { dir: this.#dir, error: String(error) });
          }
        }
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = null;
    }
  }

  #ensureWatcher(): void {
    if (this.#watcher || this.#stopped || this.#options.watch === false) return;
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(this.#dir, { recursive: true });
    } catch {
      return; // the directory does not exist yet: the poll keeps looking
    }
    this.#watcher = watcher;
    (async () => {
      try {
        for await (const event of watcher) {
          const current = this.#position && fileName(this.#dir, this.#position);
          this.poke(event.paths.some((path) => path !== current));
        }
      } catch {
        // the watched directory went away: the poll re-creates the watcher
      }
      if (this.#watcher === watcher) this.#watcher = null;
    })();
  }

  #closeWatcher(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    try {
      watcher?.close();
    } catch {
      // already closed
    }
  }

  async #check(): Promise<void> {
    if (!this.#position && !(await this.#open())) return;
    while (!this.#stopped && this.#position) {
      const full = this.#lookAround;
      this.#lookAround = false;
      await this.#readCurrent(full);
      if (!full || this.#stopped) return;
      const next = await this.#next(this.#position);
      if (!next) return;
      this.#lookAround = true; // the next file may itself have been superseded
      // Rotation: the node has moved on, so the current file is complete: finish it, then switch.
      await this.#readCurrent(false);
      const file = fileName(this.#dir, this.#position);
      if (this.#partial.length > 0) {
        const offset = this.#offset - this.#partial.length;
        this.#fault("unfinished", file, offset, "file ended without a newline");
        this.#emit([{ file, offset, bytes: this.#partial.take(new Uint8Array(0)) }]);
      }
      log.debug("{file} rotated to {next}", { file, next: fileName(this.#dir, next) });
      this.#switch(next, 0);
    }
  }

  /** Chooses the first file to follow; false while there is none. */
  async #open(): Promise<boolean> {
    const dates = await listDates(this.#dir);
    const first = !this.#initialized && !this.#options.fromStart;
    const ordered = first ? [...dates].reverse() : dates;
    for (const date of ordered) {
      const hours = await listHours(this.#dir, date);
      if (hours.length === 0) continue;
      const hour = first ? hours[hours.length - 1] : hours[0];
      const position = { date, hour };
      this.#switch(position, first ? await this.#endOfLastLine(fileName(this.#dir, position)) : 0);
      this.#initialized = true;
      log.debug("following {file} from byte {offset}", {
        file: fileName(this.#dir, position),
        offset: this.#offset,
      });
      return true;
    }
    this.#initialized = true; // every file that appears from now on is new: read it from its start
    return false;
  }

  #switch(position: Position, offset: number): void {
    this.#closeFile();
    this.#position = position;
    this.#offset = offset;
    this.#ino = null;
    this.#partial.clear();
    this.#missing = false;
  }

  /** Offset just past the file's last newline: a half-written last line is read once it is complete. */
  async #endOfLastLine(path: string): Promise<number> {
    using file = await Deno.open(path, { read: true });
    let end = (await file.stat()).size;
    const buffer = new Uint8Array(64 * 1024);
    while (end > 0) {
      const start = Math.max(0, end - buffer.length);
      await file.seek(start, Deno.SeekMode.Start);
      const view = buffer.subarray(0, end - start);
      let read = 0;
      while (read < view.length) {
        const n = await file.read(view.subarray(read));
        if (n === null) break;
        read += n;
      }
      const index = view.subarray(0, read).lastIndexOf(NEWLINE);
      if (index >= 0) return start + index + 1;
      end = start;
    }
    return 0;
  }

  async #next(position: Position): Promise<Position | null> {
    const later = (await listHours(this.#dir, position.date)).find((hour) => hour > position.hour);
    if (later !== undefined) return { date: position.date, hour: later };
    for (const date of await listDates(this.#dir)) {
      if (date <= position.date) continue;
      const hours = await listHours(this.#dir, date);
      if (hours.length > 0) return { date, hour: hours[0] };
    }
    return null;
  }

  #fault(kind: TailFault["kind"], file: string, offset: number, message: string): void {
    log.warn("{file}:{offset}: {message}", { file, offset, message });
    this.#options.onFault?.({ kind, file, offset, message });
  }

  /**
   * Reads on from the last offset in the open file (opening it if needed). `full` first checks that the path
   * still names that file (after reading what the old one still holds) and that it was not truncated.
   */
  async #readCurrent(full: boolean): Promise<void> {
    if (!this.#position) return;
    const path = fileName(this.#dir, this.#position);
    if (this.#file && full) {
      this.#readOn(path, this.#file);
      let ino: number | null = null;
      try {
        ino = (await Deno.stat(path)).ino;
      } catch (error) {
        if (!isNotFound(error)) throw error;
        this.#closeFile();
        this.#missing = true;
        this.#fault("deleted", path, this.#offset, "file was deleted; waiting for it or a newer file");
        return;
      }
      if (ino !== null && this.#ino !== null && ino !== this.#ino) this.#closeFile(); // reopened below
      else if ((await this.#file.stat()).size < this.#offset) this.#closeFile(); // reopened and reported below
    }
    const file = this.#file ?? await this.#openCurrent(path);
    if (file) this.#readOn(path, file);
  }

  /** Opens the followed file at the offset to read from, reporting a replaced, recreated or truncated file. */
  async #openCurrent(path: string): Promise<Deno.FsFile | null> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      if (!this.#missing) {
        this.#missing = true;
        this.#fault("deleted", path, this.#offset, "file was deleted; waiting for it or a newer file");
      }
      return null;
    }
    try {
      const stat = await file.stat();
      if (this.#ino !== null && stat.ino !== null && stat.ino !== this.#ino) {
        this.#fault("replaced", path, this.#offset, "file was replaced; reading the new one from its start");
        this.#offset = 0;
        this.#partial.clear();
      } else if (this.#missing) {
        this.#fault("replaced", path, this.#offset, "file was recreated; reading it from its start");
        this.#offset = 0;
        this.#partial.clear();
      }
      this.#missing = false;
      this.#ino = stat.ino;
      if (stat.size < this.#offset) {
        this.#fault("truncated", path, this.#offset, `file was truncated to ${stat.size} bytes`);
        this.#offset = 0;
        this.#partial.clear();
      }
      if (this.#offset > 0) await file.seek(this.#offset, Deno.SeekMode.Start);
    } catch (error) {
      file.close();
      throw error;
    }
    this.#file = file;
    return file;
  }

  /**
   * Reads what was appended since the last read, up to the end of the file. Synchronously: the node has just
   * written those bytes, so a read is a copy out of the page cache (~0.1 ms for a 1× block's statuses line),
   * while an asynchronous read waits for a pool thread first — on the busy 2-core bench machine that wait put
   * the start of a block's parse 1 ms (median) to 5 ms (p99) after the node's write at 1× load.
   */
  #readOn(path: string, file: Deno.FsFile): void {
    const buffer = this.#buffer;
    while (!this.#stopped && this.#file === file) {
      const read = file.readSync(buffer);
      if (read === null || read === 0 || this.#file !== file) break;
      this.#consume(path, buffer.slice(0, read)); // a copy the lines own: the read buffer is reused
      this.#offset += read;
      if (read < buffer.length) break;
    }
  }

  /** Splits freshly read bytes (starting at `this.#offset`) into lines, keeping an unfinished tail. */
  #consume(path: string, bytes: Uint8Array): void {
    const lines: TailLine[] = [];
    let start = 0;
    let lineOffset = this.#offset - this.#partial.length;
    let index = bytes.indexOf(NEWLINE);
    while (index >= 0) {
      let line = bytes.subarray(start, index);
      if (this.#partial.length > 0) line = this.#partial.take(line);
      if (line.length > 0) lines.push({ file: path, offset: lineOffset, bytes: line });
      lineOffset += line.length + 1;
      start = index + 1;
      index = bytes.indexOf(NEWLINE, start);
    }
    if (start < bytes.length) this.#partial.add(bytes.subarray(start));
    if (lines.length > 0) this.#emit(lines);
  }

  #emit(lines: readonly TailLine[]): void {
    try {
      this.#options.onLines(lines);
    } catch (error) {
      log.error("line consumer failed: {error}", { error: String(error) });
    }
  }
}

/** Starts following the stream directory `dir` (e.g. `<data-dir>/node_fills_by_block`). */
export function tail(dir: string, options: TailOptions): Tailer {
  const tailer = new Tailer(dir, options);
  tailer.start();
  return tailer;
}
