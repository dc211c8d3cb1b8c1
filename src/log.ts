/**
 * Logging set-up: LogTape with one category per module under `hlbook`, pretty for a terminal or JSON lines.
 *
 * @module
 */
import {
  configure,
  getAnsiColorFormatter,
  getConsoleSink,
  getLogger,
  getTextFormatter,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  reset,
} from "@logtape/logtape";

/** The logger of one module: `logger("ingest")` → category `["hlbook", "ingest"]`. */
export function logger(module: string): Logger {
  return getLogger(["hlbook", module]);
}

/**
 * Whether pretty logs get ANSI colours: only on a terminal, and never with `NO_COLOR` set (no-color.org);
 * colour codes in a file or a log collector are noise.
 */
export function useColour(): boolean {
  return !Deno.noColor && Deno.stdout.isTerminal();
}

/**
 * The record with its string values folded into the message text, so that the rendered JSON message reads
 * `listening on http://127.0.0.1:8000/` rather than quoting each value (the values stay in `properties`).
 */
function bareStrings(record: LogRecord): LogRecord {
  const parts = record.message;
  if (!parts.some((part, i) => i % 2 === 1 && typeof part === "string")) return record;
  const message: unknown[] = [parts[0]];
  for (let i = 1; i < parts.length; i += 2) {
    if (typeof parts[i] === "string") message[message.length - 1] += `${parts[i]}${parts[i + 1] ?? ""}`;
    else message.push(parts[i], parts[i + 1] ?? "");
  }
  return { ...record, message };
}

/** Configures logging once for the process (calling it again replaces the configuration). */
export async function setupLogging(level: LogLevel, format: "pretty" | "json"): Promise<void> {
  // Strings bare: `http://127.0.0.1:8000/` stays copyable, paths are not wrapped in quotes.
  const options = { timestamp: "date-time-timezone", value: "bare" } as const;
  await reset();
  await configure({
    reset: true,
    sinks: {
      console: getConsoleSink({
        formatter: format === "json"
          ? (record) => jsonLinesFormatter(bareStrings(record))
          : useColour()
          ? getAnsiColorFormatter(options)
          : getTextFormatter(options),
      }),
    },
    loggers: [
      { category: ["hlbook"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
