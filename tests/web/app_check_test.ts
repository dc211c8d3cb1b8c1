/**
 * The page script runs in browsers, so it is type-checked against the DOM library in a program of its own
 * (`dom_check.json`): adding the DOM library to the project-wide check would change Deno's own types for every
 * other file.
 */
import assert from "node:assert/strict";

Deno.test("the page script type-checks against the browser DOM", async () => {
  const root = new URL("../../", import.meta.url);
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "check",
      "--quiet",
      "--config",
      "tests/web/dom_check.json",
      "src/web/app.js",
      "src/web/user_panel.js",
    ],
    cwd: root.pathname,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
});
