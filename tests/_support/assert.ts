/** Re-exports of `node:assert/strict` under the names the server tests use. */
import assertModule from "node:assert/strict";

export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  assertModule.deepStrictEqual(actual, expected, message);
}
export function assert(value: unknown, message?: string): asserts value {
  assertModule.ok(value, message);
}
export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  assertModule.match(actual, pattern, message);
}
