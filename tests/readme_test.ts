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
    // A flag that is off by default reads "off" or "none" in the table, whichever --help says it is.
    if (real === "false" || real === "none") {
      assert.ok(shown === "off" || shown === "none", `--${flag}: ${shown}`);
      continue;
    }
    assert.equal(shown, `\`${real}\``, `--${flag}`);
  }
});

Deno.test("the README and docs/ link only inside the repository, and every link resolves", async () => {
  const root = new URL("../", import.meta.url);
  const files = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, root));
    assert.doesNotMatch(text, /\.\.\/shared/, `${file} names ../shared`);
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // an absolute URL
      const resolved = new URL(target, new URL(file, root));
      assert.ok(resolved.href.startsWith(root.href), `${file} links outside the repository: ${target}`);
      await Deno.stat(resolved).catch(() => assert.fail(`${file} links to a missing ${target}`));
    }
  }
});
