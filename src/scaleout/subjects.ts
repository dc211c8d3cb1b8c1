/**
 * NATS subject names for hlbook's views (docs/scale-out.md).
 *
 * A view key (`l2Book\0BTC\05\0null\020`, `allMids\0`, `trades\0@107`, …) becomes one subject:
 * `hlbook.v1.` + one token per key part. Coins are not valid subject tokens as they are: `PURR/USDC` and
 * `@107` are harmless, but a `.` would split a token, `*` and `>` are wildcards, whitespace ends the subject,
 * and an empty part (the default `allMids` dex) is not a token at all. Every byte outside `[A-Za-z0-9_-]` is
 * therefore written `~XX` (hex of its UTF-8 byte) and an empty part is `~`. The mapping is one to one, so an
 * edge can turn a subject it receives back into the view key it serves, and the type comes first so that
 * `hlbook.v1.trades.>` selects every coin's trades.
 *
 * @module
 */

/** The subject prefix of this layout's version; a new layout gets a new prefix, never a changed meaning. */
export const SUBJECT_PREFIX = "hlbook.v1";

const SEPARATOR = "\u0000";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function plain(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) || byte === 0x5f || byte === 0x2d;
}

/** One key part as a subject token (never empty, never containing `.`, `*`, `>`, `~`-ambiguity or spaces). */
export function encodeToken(part: string): string {
  if (part === "") return "~";
  let out = "";
  for (const byte of encoder.encode(part)) {
    out += plain(byte) ? String.fromCharCode(byte) : `~${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The key part a token encodes, or null when the token is not one {@link encodeToken} can write. */
export function decodeToken(token: string): string | null {
  if (token === "~") return "";
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code === 0x7e) {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return null;
      const byte = parseInt(hex, 16);
      if (plain(byte)) return null; // a plain byte is never escaped: one spelling per part
      bytes.push(byte);
      i += 2;
    } else if (code < 0x80 && plain(code)) bytes.push(code);
    else return null;
  }
  if (bytes.length === 0) return null;
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch {
    return null;
  }
}

/** The subject a view's messages are published on. */
export function viewSubject(viewKey: string): string {
  return `${SUBJECT_PREFIX}.${viewKey.split(SEPARATOR).map(encodeToken).join(".")}`;
}

/** The view key of a subject written by {@link viewSubject}, or null for any other subject. */
export function viewKeyOf(subject: string): string | null {
  if (!subject.startsWith(`${SUBJECT_PREFIX}.`)) return null;
  const parts: string[] = [];
  for (const token of subject.slice(SUBJECT_PREFIX.length + 1).split(".")) {
    const part = decodeToken(token);
    if (part === null) return null;
    parts.push(part);
  }
  return parts.join(SEPARATOR);
}

/** The subjects of every view of one type (e.g. `trades` → `hlbook.v1.trades.>`), for a stream's filter. */
export function typeWildcard(type: string): string {
  return `${SUBJECT_PREFIX}.${encodeToken(type)}.>`;
}
