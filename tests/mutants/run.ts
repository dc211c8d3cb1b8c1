/**
 * `deno task mutants`: applies each mutation of `list.ts` (a small, realistic bug) to a temporary copy of the
 * repository, runs the fast unit tests that are meant to catch it, and reports the mutations that survive.
 * Not part of CI: it answers "would the suite notice this bug?", which a green run cannot.
 *
 *   deno task mutants [--only id,id] [--list]
 *
 * Exit code 0 when every mutation was killed, 1 when one survived or could no longer be applied (its `find`
 * text is gone from the source: update the list with the code).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Mutation, MUTATIONS } from "./list.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: { only: { type: "string" }, list: { type: "boolean", default: false } },
});
const say = (text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));

if (values.list) {
  for (const m of MUTATIONS) say(`${m.id.padEnd(28)} ${m.file}: ${m.why}`);
  Deno.exit(0);
}
const only = values.only?.split(",");
const chosen = MUTATIONS.filter((m) => !only || only.includes(m.id));
if (only && chosen.length !== only.length) {
  const known = new Set(MUTATIONS.map((m) => m.id));
  say(`unknown mutation id(s): ${only.filter((id) => !known.has(id)).join(", ")} (see --list)`);
  Deno.exit(2);
}

/** Copies the tracked and untracked-but-not-ignored files into `dir`, with `../shared` linked beside it. */
async function copyRepo(dir: string): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error("git ls-files failed: run from a git checkout");
  const repo = `${dir}/repo`;
  for (const path of new TextDecoder().decode(out.stdout).split("\0").filter(Boolean)) {
    const target = `${repo}/${path}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    try {
      await Deno.copyFile(`${ROOT}${path}`, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted in the work tree
    }
  }
  try {
    await Deno.symlink(`${ROOT}../shared`, `${dir}/shared`);
  } catch {
    // no ../shared here: the tests that need it skip
  }
  return repo;
}

/** The source with the mutation applied, or null when its `find` text is not there (exactly once unless `all`). */
function mutate(source: string, m: Mutation): string | null {
  const count = source.split(m.find).length - 1;
  if (count === 0 || (!m.all && count !== 1)) return null;
  return m.all ? source.replaceAll(m.find, m.replace) : source.replace(m.find, m.replace);
}

async function runTests(repo: string, tests: readonly string[]): Promise<{ passed: boolean; tail: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--no-check", ...tests],
    cwd: repo,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { passed: out.success, tail: text.trim().split("\n").slice(-3).join(" | ") };
}

const dir = await Deno.makeTempDir({ prefix: "hlbook-mutants-" });
let bad = 0;
try {
  const repo = await copyRepo(dir);
  say(`${chosen.length} mutation(s) on a copy in ${repo}`);
  for (const m of chosen) {
    const path = `${repo}/${m.file}`;
    const original = await Deno.readTextFile(path);
    const mutated = mutate(original, m);
    if (mutated === null) {
      bad++;
      say(`NOT APPLIED  ${m.id}: the text to mutate is not in ${m.file} (exactly once unless "all")`);
      continue;
    }
    await Deno.writeTextFile(path, mutated);
    const started = performance.now();
    try {
      const { passed, tail } = await runTests(repo, m.tests);
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      if (passed) {
        bad++;
        say(`SURVIVED     ${m.id} (${seconds} s): ${m.why}\n             tests: ${m.tests.join(" ")}`);
      } else say(`killed       ${m.id} (${seconds} s)`);
      if (passed && Deno.env.get("MUTANTS_VERBOSE")) say(`             ${tail}`);
    } finally {
      await Deno.writeTextFile(path, original);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
say(
  bad === 0
    ? `0 survivors of ${chosen.length}`
    : `${bad} of ${chosen.length} survived or could not be applied`,
);
Deno.exit(bad === 0 ? 0 : 1);
