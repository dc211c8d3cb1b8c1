/**
 * Byte scanning of batch lines: the header walk (`scanBatch`) and learned event layouts (`EventLayouts`).
 *
 * A node line holds thousands of events written by the same code: the same keys in the same order with the
 * same punctuation, only the values differ. The first event of a layout is walked in full against the JSON
 * grammar (nested objects descended into; arrays and empty objects taken whole, as values); the bytes between
 * its values (keys, colons, commas, braces, spaces) become the layout's runs. A later event holding exactly
 * those runs with a valid JSON value between each two is valid JSON with the same members in the same places,
 * so only its values are walked; the runs are compared eight bytes at a time. A few layouts are kept (diffs
 * come as remove / new / update, statuses with or without a builder): a mismatch at run k goes on in another
 * layout whose runs 0..k-1 are the same, from where it stopped.
 *
 * A matched event can be built into the object `JSON.parse` would give (the same members in the same order,
 * the same values) straight from the bytes, without decoding the line.
 *
 * @module
 */
import { isId, type Json, UTF8 } from "./_json.ts";
import { parseNodeTime } from "../book/time.ts";
import {
  afterColon,
  CLOSE_CURLY,
  CLOSE_SQUARE,
  isDigit,
  keyMatches,
  LATIN1,
  nextItem,
  numberEnd,
  oddText,
  OPEN_CURLY,
  OPEN_SQUARE,
  QUOTE,
  skipSpace,
  SPECIAL,
  stringEnd,
  valueEnd,
} from "./_walk.ts";
import type { Batch } from "./lines.ts";

/** Layouts kept per scanner (the oldest is replaced by a new one). */
const MAX_LAYOUTS = 8;

/** Where a member of a learned layout is: a value slot, or a nested object's members. */
type Shape = Map<string, number | Shape>;

/** One learned event layout: the runs between its value slots and how to build the event from the slots. */
class Layout {
  constructor(
    /** The bytes before slot k (k = 0..slots); the last run closes the event. */
    readonly runs: readonly Uint8Array[],
    /**
     * Each run's first `8 × length` bytes read as little-endian doubles, or an empty array when the run has a
     * byte outside printable ASCII. A double of printable ASCII bytes is never NaN or ±0, so another double
     * equals it exactly when its eight bytes are the same.
     */
    readonly words: readonly Float64Array[],
    /** Slot k's member name. */
    readonly keys: readonly string[],
    /** Nested objects closed before slot k. */
    readonly pops: readonly number[],
    /** Nested objects opened before slot k (their member names, outermost first), or null. */
    readonly opens: readonly (readonly string[] | null)[],
    /** False when a member is `__proto__` (an assignment would set the prototype): build with `JSON.parse`. */
    readonly assignable: boolean,
    /** Slot of each path the scanner asked for, -1 when the path is not a value of this layout. */
    readonly marks: readonly number[],
    /** The first byte of slot k's value in the event the layout was learned from (its kind). */
    readonly kinds: readonly number[],
    /**
     * Slot k's value while it has been the same plain string (quotes included) in every event matched so far
     * (a status, `"N/A"`, `"Limit"`), else null: the compiled matcher compares it whole before walking.
     */
    readonly constants: (Uint8Array | null)[],
  ) {}

  /** Events matched so far by the generic matcher (the layout is compiled at `COMPILE_AFTER`). */
  uses = 0;
  /** The layout's own matcher (see `compileLayout`), once it has been used often enough. */
  compiled: CompiledMatch | null = null;
  /** Events built so far by the generic builder (the builder is compiled at `COMPILE_AFTER`). */
  builds = 0;
  /** The layout's own builder (see `compileBuilder`), once it has built often enough. */
  builder: CompiledBuild | null = null;
}

/** A layout's builder compiled to one object literal: `(view, b, starts, ends, odds)` → the event last matched. */
type CompiledBuild = (
  view: DataView<ArrayBufferLike>,
  b: Uint8Array,
  starts: number[],
  ends: number[],
  odds: boolean[],
) => Json;

/**
 * A layout's matcher compiled to straight-line code: `(view, b, i, n, k, starts, ends, odds, fail)` matches
 * from run k as `EventLayouts.#match` does (index past the event, or -2 with the run and its start in `fail`).
 */
type CompiledMatch = (
  view: DataView<ArrayBufferLike>,
  b: Uint8Array,
  i: number,
  n: number,
  k: number,
  starts: number[],
  ends: number[],
  odds: boolean[],
  fail: Int32Array,
) => number;

/** Longest value (quotes included) a layout keeps as a constant. */
const CONSTANT_MAX = 64;

/** Events a layout matches before it is compiled (layouts seen a few times only are never compiled). */
const COMPILE_AFTER = 64;

/**
 * The value at `i` of a layout's slot, walked: the index past it, `oddEnd(index)` for a string holding an
 * escape or a non-ASCII byte, or -1 when it is not a value this slot takes (a non-empty object is another
 * layout: a layout's objects are all descended into).
 */
export function walkSlot(b: Uint8Array, i: number, n: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i, n);
  if (c >= 49 && c <= 57) {
    // An integer, unless a fraction or an exponent follows (then the full number grammar).
    let j = i + 1;
    while (j < n && b[j] >= 48 && b[j] <= 57) j++;
    const d = b[j];
    return d === 46 || d === 101 || d === 69 ? numberEnd(b, i, n) : j;
  }
  if (c === 110) return b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108 && i + 3 < n ? i + 4 : -1;
  if (c === OPEN_CURLY && b[skipSpace(b, i + 1, n)] !== CLOSE_CURLY) return -1;
  return valueEnd(b, i, n);
}

/**
 * Compiles a layout's matcher. The generated code holds only numbers taken from the runs (their bytes as
 * doubles or integers, their sizes) and the slots' indexes: the run compares are unrolled with the words as
 * constants, a slot whose value has always been the same string is compared whole first, string slots are
 * walked inline eight bytes at a time, every other value goes through `walkSlot`.
 * It does exactly what the generic loop does (the status fuzz tests run both: a layout is compiled after
 * `COMPILE_AFTER` events), without its per-slot loads of runs, words and sizes.
 */
/**
 * The tests (code, joined by `||`) that the bytes at `i` differ from `bytes`: their words compared as
 * constants, eight bytes at a time when printable ASCII (see `Layout.words`), else four or one.
 */
function differs(bytes: Uint8Array): string[] {
  const size = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tests: string[] = [];
  if (size >= 8 && bytes.every((c) => c >= 0x20 && c <= 0x7e)) {
    for (let w = 0; w + 8 <= size; w += 8) {
      tests.push(`view.getFloat64(i + ${w}, true) !== ${view.getFloat64(w, true)}`);
    }
    if (size % 8 !== 0) {
      tests.push(`view.getFloat64(i + ${size - 8}, true) !== ${view.getFloat64(size - 8, true)}`);
    }
  } else if (size >= 4 && size < 8) {
    tests.push(`view.getInt32(i, true) !== ${view.getInt32(0, true)}`);
    tests.push(`view.getInt32(i + ${size - 4}, true) !== ${view.getInt32(size - 4, true)}`);
  } else {
    for (let j = 0; j < size; j++) tests.push(`b[i + ${j}] !== ${bytes[j]}`);
  }
  return tests;
}

function compileLayout(layout: Layout): CompiledMatch {
  const runs = layout.runs;
  const last = runs.length - 1;
  const lines: string[] = ["let at = i;", "switch (k) {"];
  const failAt = (k: number, where: string) => `{ fail[0] = ${k}; fail[1] = ${where}; return -2; }`;
  for (let k = 0; k <= last; k++) {
    const run = runs[k];
    const size = run.length;
    const tests = differs(run);
    lines.push(`case ${k}:`, "at = i;", `if (i + ${size} > n) ${failAt(k, "i")}`);
    if (tests.length > 0) lines.push(`if (${tests.join(" || ")}) ${failAt(k, "i")}`);
    lines.push(`i += ${size};`);
    if (k === last) {
      lines.push("return i;");
      break;
    }
    lines.push(`starts[${k}] = i;`);
    const walked = [
      "{",
      "const e = walk(b, i, n);",
      `if (e === -1) ${failAt(k, "at")}`,
      `odds[${k}] = e < -1;`,
      "i = e < -1 ? -2 - e : e;",
      "}",
    ].join(" ");
    const constant = layout.constants[k];
    if (constant !== null) {
      // The same plain string in every event so far: compared whole (a quote, its text, a quote), else walked.
      const size = constant.length;
      lines.push(`if (i + ${size} <= n && !(${differs(constant).join(" || ")})) {`);
      lines.push(`odds[${k}] = false; i += ${size};`, "} else {");
    }
    const kind = layout.kinds[k];
    if (kind === QUOTE) {
      // Four bytes at a time while none is a control, a quote, a backslash or non-ASCII. In the word that has
      // one, the lowest flagged byte is the first such byte (a borrow only flags bytes above a flagged one):
      // found from the mask, not byte by byte. The last few bytes of the line byte by byte.
      const special = (x: string) =>
        `((((${x} - 0x20202020) | 0) | (((${x} ^ 0x22222222) - 0x01010101) & ~(${x} ^ 0x22222222)) | ` +
        `(((${x} ^ 0x5c5c5c5c) - 0x01010101) & ~(${x} ^ 0x5c5c5c5c)) | ${x}) & 0x80808080)`;
      lines.push(
        "if (b[i] === 34) {",
        "let j = i + 1;",
        "let m = 0;",
        "for (; j + 8 <= n; j += 8) {",
        "const x = view.getInt32(j, true);",
        `m = ${special("x")};`,
        "if (m !== 0) break;",
        "const y = view.getInt32(j + 4, true);",
        `m = ${special("y")};`,
        "if (m !== 0) { j += 4; break; }",
        "}",
        "if (m !== 0) j += (31 - Math.clz32(m & -m)) >> 3;",
        "else while (j < n && SPECIAL[b[j]] === 0) j++;",
        `if (j < n && b[j] === 34) { odds[${k}] = false; i = j + 1; }`,
        `else ${walked}`,
        `} else ${walked}`,
      );
    } else if (kind >= 49 && kind <= 57) {
      // An integer (a fraction or an exponent after it: walked in full).
      lines.push(
        "{",
        "let j = i;",
        "while (j < n && b[j] >= 48 && b[j] <= 57) j++;",
        "const d = b[j];",
        `if (j > i && b[i] !== 48 && d !== 46 && d !== 101 && d !== 69) { odds[${k}] = false; i = j; }`,
        `else ${walked}`,
        "}",
      );
    } else if (kind === 110 || kind === 116 || kind === 102 || kind === OPEN_SQUARE) {
      // The literal (or `[]`) the layout was learned with, compared whole; anything else walked.
      const text = kind === 110 ? "null" : kind === 116 ? "true" : kind === 102 ? "false" : "[]";
      const tests = [`i + ${text.length} <= n`];
      for (let j = 0; j < text.length; j++) tests.push(`b[i + ${j}] === ${text.charCodeAt(j)}`);
      lines.push(`if (${tests.join(" && ")}) { odds[${k}] = false; i += ${text.length}; }`, `else ${walked}`);
    } else lines.push(walked);
    if (constant !== null) lines.push("}");
    lines.push(`ends[${k}] = i;`);
  }
  lines.push("}", "return -2;");
  const body = `return function match(view, b, i, n, k, starts, ends, odds, fail) {\n${lines.join("\n")}\n};`;
  return new Function("SPECIAL", "walk", body)(SPECIAL, walkSlot) as CompiledMatch;
}

/**
 * Compiles a layout's builder: one nested object literal with the layout's member names in its order, each
 * value read from its slot by `valueAt`. V8 makes such a literal from a prepared shape in one step, where the
 * generic builder's stores by computed name (a different name at each store) cost ~50 ns each. A literal
 * keeps the members in the order written and gives a repeated name the last value at its first place, as
 * `JSON.parse` does; layouts with a `__proto__` member never get here (a literal would set the prototype).
 */
function compileBuilder(layout: Layout): CompiledBuild {
  const keys = layout.keys;
  let code = "{";
  let depth = 0;
  let first = true;
  for (let k = 0; k < keys.length; k++) {
    for (let m = 0; m < layout.pops[k]; m++, depth--) code += "}";
    if (layout.pops[k] > 0) first = false;
    for (const name of layout.opens[k] ?? []) {
      code += `${first ? "" : ","}${JSON.stringify(name)}:{`;
      depth++;
      first = true;
    }
    code += `${first ? "" : ","}${
      JSON.stringify(keys[k])
    }:value(b, view, starts[${k}], ends[${k}], odds[${k}])`;
    first = false;
  }
  code += "}".repeat(depth + 1);
  const body = `return function build(view, b, starts, ends, odds) {\nreturn ${code};\n};`;
  return new Function("value", body)(valueAt) as CompiledBuild;
}

/** Whether bytes `start..end` of `b` are `bytes`. */
function sameBytes(b: Uint8Array, start: number, end: number, bytes: Uint8Array): boolean {
  if (end - start !== bytes.length) return false;
  for (let j = 0; j < bytes.length; j++) if (b[start + j] !== bytes[j]) return false;
  return true;
}

function wordsOf(run: Uint8Array): Float64Array {
  for (let j = 0; j < run.length; j++) if (run[j] < 0x20 || run[j] > 0x7e) return new Float64Array(0);
  const words = new Float64Array(run.length >> 3);
  const view = new DataView(run.buffer, run.byteOffset, run.byteLength);
  for (let w = 0; w < words.length; w++) words[w] = view.getFloat64(w * 8, true);
  return words;
}

function sameRuns(a: Layout, b: Layout): number {
  const size = Math.min(a.runs.length, b.runs.length);
  let k = 0;
  for (; k < size; k++) {
    const x = a.runs[k];
    const y = b.runs[k];
    if (x.length !== y.length) break;
    let j = 0;
    while (j < x.length && x[j] === y[j]) j++;
    if (j < x.length) break;
  }
  return k;
}

/** Scratch of the full walk that learns a layout. */
interface Learning {
  keys: string[];
  pops: number[];
  opens: (string[] | null)[];
  pendingPops: number;
  pendingOpens: string[] | null;
  assignable: boolean;
}

/** The learned layouts of one kind of event, and the value slots of the event last walked. */
export class EventLayouts {
  /** Value ranges of the event last walked: slot k is bytes `slotStart[k]..slotEnd[k]` of the line. */
  readonly slotStart: number[] = [];
  readonly slotEnd: number[] = [];
  /** Whether slot k is a string holding an escape or a non-ASCII byte (its text is not its bytes). */
  readonly slotOdd: boolean[] = [];
  /** The layout of the event last walked. */
  layout: Layout | null = null;
  readonly #paths: readonly (readonly string[])[];
  #layouts: Layout[] = [];
  /** `#shared[a][b]`: leading runs layouts a and b have in common. */
  #shared: number[][] = [];
  #last = 0;
  #view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  /** Where the last `#match` found a run that differs: run index and byte index. */
  #failRun = 0;
  #failAt = 0;
  readonly #fail = new Int32Array(2);
  readonly #stack: Json[] = [];

  /** `paths`: members whose slots the caller reads (`["order", "coin"]`: `coin` of the `order` object). */
  constructor(paths: readonly (readonly string[])[]) {
    this.#paths = paths;
  }

  /** Starts a line: its bytes, read eight at a time by the run compare. */
  line(b: Uint8Array): void {
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** A view of the line's bytes (the same indexes), for reads of eight bytes at a time. */
  get view(): DataView<ArrayBufferLike> {
    return this.#view;
  }

  /** Ends a line (drops the view of its bytes). */
  done(): void {
    this.#view = new DataView(new ArrayBuffer(0));
  }

  /**
   * Walks the event object opening at `i` (a `{`): matched against the known layouts, or walked in full and
   * learned. Index past it (its slots and `layout` set), or -1 when it is not valid JSON or has no layout
   * (an empty object).
   */
  event(b: Uint8Array, i: number, n: number): number {
    const layouts = this.#layouts;
    const count = layouts.length;
    if (count > 0) {
      let current = this.#last;
      let end = this.#match(layouts[current], b, i, n, 0);
      let tried = 1 << current;
      while (end === -2) {
        const run = this.#failRun;
        const at = this.#failAt;
        const shared = this.#shared[current];
        let next = -1;
        for (let m = 0; m < count; m++) {
          if ((tried & (1 << m)) === 0 && shared[m] >= run) {
            next = m;
            break;
          }
        }
        if (next < 0) break;
        current = next;
        tried |= 1 << next;
        end = this.#match(layouts[current], b, at, n, run);
      }
      if (end >= 0) {
        this.#last = current;
        this.layout = layouts[current];
        return end;
      }
    }
    return this.#learn(b, i, n);
  }

  /**
   * Matches from run `k` at `i` (runs before it matched already): index past the event, or -2 when a run
   * differs or the value after it is not valid JSON (`#failRun`/`#failAt` say which run and where it starts).
   */
  #match(layout: Layout, b: Uint8Array, i: number, n: number, k: number): number {
    const compiled = layout.compiled;
    if (compiled !== null) {
      const end = compiled(this.#view, b, i, n, k, this.slotStart, this.slotEnd, this.slotOdd, this.#fail);
      if (end === -2) {
        this.#failRun = this.#fail[0];
        this.#failAt = this.#fail[1];
      }
      return end;
    }
    if (++layout.uses === COMPILE_AFTER) layout.compiled = compileLayout(layout);
    const runs = layout.runs;
    const words = layout.words;
    const last = runs.length - 1;
    const view = this.#view;
    const starts = this.slotStart;
    const ends = this.slotEnd;
    const odds = this.slotOdd;
    const constants = layout.constants;
    for (;; k++) {
      const at = i;
      const run = runs[k];
      const size = run.length;
      if (i + size > n) return this.#differs(k, i);
      const ws = words[k];
      let j = 0;
      for (let w = 0; w < ws.length; w++, j += 8) {
        if (view.getFloat64(i + j, true) !== ws[w]) return this.#differs(k, i);
      }
      for (; j < size; j++) if (b[i + j] !== run[j]) return this.#differs(k, i);
      i += size;
      if (k === last) return i;
      starts[k] = i;
      const c = b[i];
      if (c === QUOTE) {
        // Four bytes at a time while none is a control, a quote, a backslash or non-ASCII (then byte by byte).
        let j = i + 1;
        for (; j + 4 <= n; j += 4) {
          const x = view.getInt32(j, true);
          const quote = x ^ 0x22222222;
          const slash = x ^ 0x5c5c5c5c;
          const special = ((x - 0x20202020) | 0) | (((quote - 0x01010101) | 0) & ~quote) |
            (((slash - 0x01010101) | 0) & ~slash) | x;
          if ((special & 0x80808080) !== 0) break;
        }
        // The rest of a plain string (its closing quote is usually within the next four bytes).
        while (j < n && SPECIAL[b[j]] === 0) j++;
        if (j < n && b[j] === QUOTE) {
          odds[k] = false;
          i = j + 1;
        } else {
          i = stringEnd(b, j - 1, n);
          if (i === -1) return this.#differs(k, at);
          const odd = i < -1;
          if (odd) i = -2 - i;
          odds[k] = odd;
        }
      } else {
        odds[k] = false;
        i = walkSlot(b, i, n);
        // Not a value here (perhaps spaces where the layout has none): another layout or the full walk decides.
        if (i < 0) return this.#differs(k, at);
      }
      ends[k] = i;
      const constant = constants[k];
      if (constant !== null && !sameBytes(b, starts[k], i, constant)) constants[k] = null;
    }
  }

  #differs(run: number, at: number): number {
    this.#failRun = run;
    this.#failAt = at;
    return -2;
  }

  /** Walks the event opening at `start` in full and makes its layout the one tried first. */
  #learn(b: Uint8Array, start: number, n: number): number {
    if (b[skipSpace(b, start + 1, n)] === CLOSE_CURLY) return -1;
    const learning: Learning = {
      keys: [],
      pops: [],
      opens: [],
      pendingPops: 0,
      pendingOpens: null,
      assignable: true,
    };
    const shape: Shape = new Map();
    const end = this.#object(b, start, n, shape, learning);
    if (end < 0) return -1;
    const slots = learning.keys.length;
    const runs: Uint8Array[] = [];
    let at = start;
    for (let k = 0; k < slots; k++) {
      runs.push(b.slice(at, this.slotStart[k]));
      at = this.slotEnd[k];
    }
    runs.push(b.slice(at, end));
    const marks = this.#paths.map((path) => {
      let node: Shape | number | undefined = shape;
      for (const name of path) node = typeof node === "object" ? node.get(name) : undefined;
      return typeof node === "number" ? node : -1;
    });
    const layout = new Layout(
      runs,
      runs.map(wordsOf),
      learning.keys,
      learning.pops,
      learning.opens,
      learning.assignable,
      marks,
      learning.keys.map((_, k) => b[this.slotStart[k]]),
      learning.keys.map((_, k) => {
        const start = this.slotStart[k];
        const end = this.slotEnd[k];
        return b[start] === QUOTE && !this.slotOdd[k] && end - start <= CONSTANT_MAX
          ? b.slice(start, end)
          : null;
      }),
    );
    if (this.#layouts.length === MAX_LAYOUTS) this.#layouts.shift();
    this.#layouts.push(layout);
    this.#shared = this.#layouts.map((a) => this.#layouts.map((other) => sameRuns(a, other)));
    this.#last = this.#layouts.length - 1;
    this.layout = layout;
    return end;
  }

  /** The full walk of a non-empty object opening at `i`: its values become slots. Index past it, or -1. */
  #object(b: Uint8Array, i: number, n: number, shape: Shape, learning: Learning): number {
    i = skipSpace(b, i + 1, n);
    for (;;) {
      if (b[i] !== QUOTE) return -1;
      const keyStart = i;
      let end = stringEnd(b, i, n);
      if (end === -1) return -1;
      const key = end < -1
        ? oddText(b, keyStart, end = -2 - end)
        : LATIN1.decode(b.subarray(keyStart + 1, end - 1));
      if (key === "__proto__") learning.assignable = false;
      i = afterColon(b, end, n);
      if (i < 0) return -1;
      if (b[i] === OPEN_CURLY && b[skipSpace(b, i + 1, n)] !== CLOSE_CURLY) {
        const inner: Shape = new Map();
        shape.set(key, inner);
        (learning.pendingOpens ??= []).push(key);
        i = this.#object(b, i, n, inner, learning);
        if (i < 0) return -1;
        learning.pendingPops++;
      } else {
        const k = learning.keys.length;
        this.slotStart[k] = i;
        if (b[i] === QUOTE) {
          i = stringEnd(b, i, n);
          if (i === -1) return -1;
          this.slotOdd[k] = i < -1;
          if (i < -1) i = -2 - i;
        } else {
          this.slotOdd[k] = false;
          i = valueEnd(b, i, n);
          if (i < 0) return -1;
        }
        this.slotEnd[k] = i;
        learning.keys.push(key);
        learning.pops.push(learning.pendingPops);
        learning.opens.push(learning.pendingOpens);
        learning.pendingPops = 0;
        learning.pendingOpens = null;
        shape.set(key, k);
      }
      i = nextItem(b, i, n, CLOSE_CURLY);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  /** The event last walked (bytes `start..end` of `b`) as `JSON.parse` would give it. */
  build(b: Uint8Array, start: number, end: number): Json {
    const layout = this.layout as Layout;
    if (!layout.assignable) return JSON.parse(UTF8.decode(b.subarray(start, end)));
    let builder = layout.builder;
    if (builder === null) {
      if (++layout.builds < COMPILE_AFTER) return this.#objects(b);
      builder = layout.builder = compileBuilder(layout);
    }
    return builder(this.#view, b, this.slotStart, this.slotEnd, this.slotOdd);
  }

  /** The event last walked, built member by member (the layout's first events, before its builder is compiled). */
  #objects(b: Uint8Array): Json {
    const layout = this.layout as Layout;
    const keys = layout.keys;
    const pops = layout.pops;
    const opens = layout.opens;
    const starts = this.slotStart;
    const ends = this.slotEnd;
    const odds = this.slotOdd;
    const stack = this.#stack;
    const root: Json = {};
    stack[0] = root;
    let top = 0;
    for (let k = 0; k < keys.length; k++) {
      top -= pops[k];
      const open = opens[k];
      if (open !== null) {
        for (let m = 0; m < open.length; m++) {
          const inner: Json = {};
          stack[top][open[m]] = inner;
          stack[++top] = inner;
        }
      }
      stack[top][keys[k]] = valueAt(b, this.#view, starts[k], ends[k], odds[k]);
    }
    return root;
  }
}

/** Longest string kept in the text cache (a user address is 42 bytes). */
const CACHED_MAX = 44;
/** Bytes per slot of the arena: `CACHED_MAX` rounded up to whole eight-byte words. */
const CACHE_STRIDE = 48;
const CACHE_SLOTS = 4096;
/** Direct-mapped cache of short texts: slot k holds `cacheText[k]`, its bytes at `k × CACHE_STRIDE` of the arena. */
const cacheText: string[] = new Array(CACHE_SLOTS).fill("");
const cacheArena = new Uint8Array(CACHE_SLOTS * CACHE_STRIDE);
const arenaView = new DataView(cacheArena.buffer);
/** One array per size for `String.fromCharCode.apply` (an array of fixed length is never reallocated). */
const scratch: number[][] = Array.from({ length: 201 }, (_, size) => new Array(size).fill(0));

/**
 * The text of bytes `start..end` (`view` is a view of `b`), known to be printable ASCII; repeated short texts
 * are shared. Texts of eight bytes or more are hashed from their last eight bytes and compared eight bytes at
 * a time (doubles of printable ASCII are never NaN or ±0: equal exactly when their bytes are).
 */
export function asciiText(
  b: Uint8Array,
  view: DataView<ArrayBufferLike>,
  start: number,
  end: number,
): string {
  const size = end - start;
  if (size > CACHED_MAX) return freshText(b, start, end);
  let hash: number;
  if (size >= 8) {
    hash = Math.imul(view.getInt32(end - 4, true), 0x9e3779b1) ^ view.getInt32(end - 8, true) ^ size;
    hash = Math.imul(hash ^ (hash >>> 15), 0x85ebca6b);
  } else {
    hash = size;
    for (let k = start; k < end; k++) hash = (hash * 31 + b[k]) | 0;
  }
  const slot = (hash ^ (hash >>> 13)) & (CACHE_SLOTS - 1);
  const known = cacheText[slot];
  const at = slot * CACHE_STRIDE;
  if (known.length === size) {
    let k = size - 8;
    while (k >= 0 && view.getFloat64(start + k, true) === arenaView.getFloat64(at + k, true)) k -= 8;
    if (k < 0) {
      // The words from the end are the same; the bytes before them (fewer than eight) one by one.
      let h = k + 7;
      while (h >= 0 && cacheArena[at + h] === b[start + h]) h--;
      if (h < 0) return known;
    }
  }
  const text = freshText(b, start, end);
  for (let k = 0; k < size; k++) cacheArena[at + k] = b[start + k];
  cacheText[slot] = text;
  return text;
}

function freshText(b: Uint8Array, start: number, end: number): string {
  const size = end - start;
  if (size === 1) return String.fromCharCode(b[start]);
  if (size >= scratch.length) return LATIN1.decode(b.subarray(start, end));
  const codes = scratch[size];
  for (let k = 0; k < size; k++) codes[k] = b[start + k];
  return String.fromCharCode.apply(null, codes);
}

/** The JSON value at bytes `start..end` (already walked: valid), as `JSON.parse` gives it. */
export function valueAt(
  b: Uint8Array,
  view: DataView<ArrayBufferLike>,
  start: number,
  end: number,
  odd: boolean,
): unknown {
  const c = b[start];
  if (c === QUOTE) return odd ? oddText(b, start, end) : asciiText(b, view, start + 1, end - 1);
  if (isDigit(c)) {
    if (end - start <= 15) {
      let value = 0;
      let k = start;
      for (; k < end; k++) {
        const d = b[k] - 48;
        if (d < 0 || d > 9) break;
        value = value * 10 + d;
      }
      if (k === end) return value;
    }
    return Number(asciiText(b, view, start, end));
  }
  if (c === 110) return null;
  if (c === 116) return true;
  if (c === 102) return false;
  if (c === 45) return Number(asciiText(b, view, start, end));
  if (end - start === 2) return c === OPEN_SQUARE ? [] : {};
  return JSON.parse(UTF8.decode(b.subarray(start, end)));
}

/**
 * Walks the `events` array opening at `i` (a `[`) of objects matched against `layouts`, handing each event
 * (bytes `start..end`, its slots in `layouts`) to `take`, which returns false to turn the line down. Index
 * past the array, or -1 (not valid JSON, an event that is not a non-empty object, or turned down).
 */
export function scanEvents(
  layouts: EventLayouts,
  b: Uint8Array,
  i: number,
  n: number,
  take: (b: Uint8Array, start: number, end: number) => boolean,
): number {
  i = skipSpace(b, i + 1, n);
  if (b[i] === CLOSE_SQUARE) return i + 1;
  for (;;) {
    if (b[i] !== OPEN_CURLY) return -1;
    const start = i;
    i = layouts.event(b, i, n);
    if (i < 0 || !take(b, start, i)) return -1;
    i = nextItem(b, i, n, CLOSE_SQUARE);
    if (i < -1) return -1 - i;
    if (i < 0) return -1;
  }
}

const KEY_EVENTS = new TextEncoder().encode("events");
const KEY_LOCAL_TIME = new TextEncoder().encode("local_time");
const KEY_BLOCK_TIME = new TextEncoder().encode("block_time");
const KEY_BLOCK_NUMBER = new TextEncoder().encode("block_number");

/**
 * Walks a batch line's header (`block_number`, `block_time`, `local_time`, in any order, other members
 * walked and ignored) and hands its `events` array (opening at `i`) to `events`, which returns the index past
 * it or -1. The batch, or null when the line is not exactly what the fast path takes: the full parse then
 * names the fault.
 */
export function scanBatch<E>(
  b: Uint8Array,
  events: (b: Uint8Array, i: number, n: number, out: E[]) => number,
): Batch<E> | null {
  const n = b.length;
  let localTime: string | null = null;
  let blockTime = NaN;
  let blockNumber = NaN;
  let out: E[] | null = null;
  let i = skipSpace(b, 0, n);
  if (b[i] !== OPEN_CURLY) return null;
  i = skipSpace(b, i + 1, n);
  if (b[i] === CLOSE_CURLY) return null; // no fields: the full parse names what is missing
  for (;;) {
    if (b[i] !== QUOTE) return null;
    const keyStart = i;
    i = stringEnd(b, i, n);
    if (i === -1) return null;
    const odd = i < -1;
    if (odd) i = -2 - i;
    const keyEnd = i;
    i = afterColon(b, i, n);
    if (i < 0) return null;
    const start = i;
    if (keyMatches(b, keyStart, keyEnd, KEY_EVENTS, odd)) {
      if (b[i] !== OPEN_SQUARE) return null;
      out = [];
      i = events(b, i, n, out);
    } else {
      i = valueEnd(b, i, n);
      if (i < 0) return null;
      if (keyMatches(b, keyStart, keyEnd, KEY_LOCAL_TIME, odd)) {
        localTime = b[start] === QUOTE ? JSON.parse(UTF8.decode(b.subarray(start, i))) : null;
      } else if (keyMatches(b, keyStart, keyEnd, KEY_BLOCK_TIME, odd)) {
        if (b[start] !== QUOTE) return null;
        blockTime = parseNodeTime(JSON.parse(UTF8.decode(b.subarray(start, i))));
      } else if (keyMatches(b, keyStart, keyEnd, KEY_BLOCK_NUMBER, odd)) {
        const c = b[start];
        blockNumber = c === 45 || isDigit(c) ? Number(LATIN1.decode(b.subarray(start, i))) : NaN;
      }
    }
    if (i < 0) return null;
    i = nextItem(b, i, n, CLOSE_CURLY);
    if (i < -1) {
      i = -1 - i;
      break;
    }
    if (i < 0) return null;
  }
  if (skipSpace(b, i, n) !== n) return null;
  if (out === null || localTime === null || !isId(blockNumber) || Number.isNaN(blockTime)) return null;
  return { blockNumber, blockTime, localTime, events: out };
}
