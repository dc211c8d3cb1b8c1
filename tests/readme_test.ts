/** The README's flag table says what `--help` says: every flag, with the same default. */
import assert from "node:assert/strict";
import { helpText } from "../config.ts";

Deno.test("the README flag table lists every flag with its real default", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const rows = new Map<string, string>();
  for (const match of readme.matchAll(/^\| `--([a-z-]+)`\s*\|\s*([^|]+?)\s*\|/gm)) {
    rows.set(match[1], match[2]);
  }
  const help = new Map<string, string>();
  const text = helpText({ HOME: "~" });
  for (const match of text.matchAll(/^ {2}--([a-z-]+)(?: <[a-z]+>)?\n {6}.*; default (.+?); env /gm)) {
    help.set(match[1], match[2]);
  }
  assert.ok(help.size >= 15, `flags read from --help: ${[...help.keys()]}`);
  assert.deepEqual([...rows.keys()].sort(), [...help.keys()].sort(), "the same flags");
  for (const [flag, shown] of rows) {
    const real = help.get(flag) ?? "";
    if (flag === "snapshot-path") {
      assert.match(real, /data dir's parent/);
      assert.match(shown, /data dir's parent/);
      continue;
    }
    const expected = real === "false" ? "off" : `\`${real}\``;
    assert.equal(shown, expected, `--${flag}`);
  }
});
