/**
 * Keeps a data dir's hourly node files to the last few, as the node's own pruning does: the demo's simulated
 * node writes gigabytes an hour at mainnet-like load, and a temp dir that only grows fills the disk.
 *
 * @module
 */

/** The hourly files of one stream (`<stream>/hourly/YYYYMMDD/H`), oldest first. */
async function hourlyFiles(streamDir: string): Promise<string[]> {
  const dates: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${streamDir}/hourly`)) {
      if (entry.isDirectory && /^\d{8}$/.test(entry.name)) dates.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const files: string[] = [];
  for (const date of dates.sort()) {
    const hours: number[] = [];
    for await (const entry of Deno.readDir(`${streamDir}/hourly/${date}`)) {
      if (entry.isFile && /^(\d|1\d|2[0-3])$/.test(entry.name)) hours.push(Number(entry.name));
    }
    for (const hour of hours.sort((a, b) => a - b)) files.push(`${streamDir}/hourly/${date}/${hour}`);
  }
  return files;
}

/**
 * Deletes all but the newest `keep` hourly files of every `node_*` stream in `dataDir` (and date folders
 * left empty); returns the paths deleted. Other files are never touched.
 */
export async function pruneHourlyFiles(dataDir: string, keep: number): Promise<string[]> {
  const removed: string[] = [];
  const streams: string[] = [];
  try {
    for await (const entry of Deno.readDir(dataDir)) {
      if (entry.isDirectory && entry.name.startsWith("node_")) streams.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return removed; // nothing written yet
    throw error;
  }
  for (const stream of streams) {
    const files = await hourlyFiles(`${dataDir}/${stream}`);
    for (const file of files.slice(0, Math.max(0, files.length - keep))) {
      await Deno.remove(file).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
      removed.push(file);
      const date = file.slice(0, file.lastIndexOf("/"));
      // Only succeeds once the date folder is empty.
      await Deno.remove(date).catch(() => {});
    }
  }
  return removed;
}
