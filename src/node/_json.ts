/**
 * Small JSON checks and the strict UTF-8 decoder shared by the node's line and snapshot parsers.
 *
 * @module
 */

export const DECIMAL = /^\d+(\.\d+)?$/;

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
export function isDecimal(value: unknown): boolean {
  return typeof value === "string" && DECIMAL.test(value);
}
export function isSide(value: unknown): boolean {
  return value === "B" || value === "A";
}
export function isId(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Strict UTF-8 (a malformed byte throws; a leading BOM is dropped, as `decodeLine` always did). */
export const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes one line's bytes as strict UTF-8; null when they are not valid UTF-8. */
export function decodeLine(bytes: Uint8Array): string | null {
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}
