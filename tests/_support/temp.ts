/**
 * Temporary directories for tests, always removed: `using dir = tempDir()` or `await dirs.remove()`.
 *
 * @module
 */
import { join } from "node:path";

/** A temp dir removed at the end of the `using` scope. */
export function tempDir(prefix = "hlbook-test-"): { path: string; [Symbol.dispose](): void } {
  const path = Deno.makeTempDirSync({ prefix });
  return {
    path,
    [Symbol.dispose]() {
      try {
        Deno.removeSync(path, { recursive: true });
      } catch {
        // already gone
      }
    },
  };
}

/** A temp dir for a node and hlbook: `data` inside it does not exist yet, `snapshot` is a file path in it. */
export async function tempDirs(): Promise<
  { root: string; data: string; snapshot: string; remove(): Promise<void> }
> {
  const root = await Deno.makeTempDir({ prefix: "hlbook-node-" });
  return {
    root,
    data: join(root, "data"),
    snapshot: join(root, "snapshot.json"),
    remove: () => Deno.remove(root, { recursive: true }).catch(() => {}),
  };
}
