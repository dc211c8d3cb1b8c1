/**
 * The real `main.ts` as a subprocess: started on port 0 (it reports the port it bound in its listening line),
 * its output captured line by line, `/health`, `/metrics` and `POST /info` at hand, stopped with SIGTERM then
 * SIGKILL. The one launcher of hlbook for process-level tests.
 *
 * @module
 */
import { join } from "node:path";
import { ROOT, Subprocess } from "./process.ts";

export { ROOT };

/** `/health` as hlbook reports it. */
export interface Health {
  readonly ready: boolean;
  readonly stale: boolean;
  readonly phase: string;
  readonly height: number;
  readonly clients: number;
  readonly subscriptions: number;
  /** Clients per edge (`--edges` ≥ 1). */
  readonly edgeClients?: readonly number[];
  readonly reason?: string | null;
}

/** A JSON log line as `LEVEL logger: message`; other output unchanged. */
function readable(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const record = JSON.parse(line) as { level?: string; logger?: string; message?: string };
    return `${record.level} ${record.logger}: ${record.message}`;
  } catch {
    return line;
  }
}

/** Options of {@link Hlbook.start}. */
export interface HlbookOptions {
  readonly dataDir: string;
  readonly infoUrl: string;
  readonly snapshotPath: string;
  /** Seconds. */
  readonly stallTimeout?: number;
  /** Seconds, 0 = off. */
  readonly validateInterval?: number;
  readonly extra?: readonly string[];
  /** V8 flags for the hlbook process, e.g. `--max-old-space-size=128` to turn a leak into a crash. */
  readonly v8Flags?: readonly string[];
  /** Extra environment variables, e.g. `HLBOOK_DEBUG_CRASH=1` (a test hook of the core worker). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The real `main.ts` as a subprocess on port 0 (it reports the port it bound), output kept line by line. */
export class Hlbook {
  port = 0;

  private constructor(readonly process: Subprocess) {}

  static async start(options: HlbookOptions): Promise<Hlbook> {
    const args = [
      "run",
      "--allow-all",
      ...(options.v8Flags?.length ? [`--v8-flags=${options.v8Flags.join(",")}`] : []),
      join(ROOT, "main.ts"),
      "--port=0",
      `--data-dir=${options.dataDir}`,
      `--info-url=${options.infoUrl}`,
      `--snapshot-path=${options.snapshotPath}`,
      `--stall-timeout=${options.stallTimeout ?? 1}`,
      `--validate-interval=${options.validateInterval ?? 0}`,
      "--log-level=info",
      "--log-format=json",
      ...(options.extra ?? []),
    ];
    const hlbook = new Hlbook(new Subprocess(args, { readable, env: { NO_COLOR: "1", ...options.env } }));
    try {
      hlbook.port = await hlbook.process.port(/listening on http:\/\//, 30_000);
    } catch (error) {
      await hlbook.close();
      throw new Error(`hlbook did not start: ${(error as Error).message}`);
    }
    return hlbook;
  }

  /** Every line it printed (JSON log records as `LEVEL logger: message`). */
  get lines(): string[] {
    return this.process.lines;
  }

  get pid(): number {
    return this.process.pid;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.process.alive;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async health(): Promise<Health> {
    const response = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(10_000) });
    return await response.json();
  }

  /** `/metrics` as name (with labels, if any) → value. */
  async metrics(): Promise<Map<string, number>> {
    const response = await fetch(`${this.base}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const values = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (line.startsWith("#") || line.trim() === "") continue;
      const index = line.lastIndexOf(" ");
      values.set(line.slice(0, index), Number(line.slice(index + 1)));
    }
    return values;
  }

  async metric(name: string): Promise<number> {
    return (await this.metrics()).get(name) ?? 0;
  }

  /** Resident set size of the process in KiB (Linux `/proc`). */
  rssKiB(): number {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  }

  /** POST /info. */
  async info(payload: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.base}/info`, {
      method: "POST",
      body: JSON.stringify(payload),
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Output lines from index `from` on that match `pattern`. */
  matching(pattern: RegExp, from = 0): string[] {
    return this.process.matching(pattern, from);
  }

  /** Stops the process (SIGTERM, then SIGKILL after 3 s). */
  async close(): Promise<void> {
    await this.process.stop();
  }
}
