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
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  reset,
} from "@logtape/logtape";

/** The logger of one module: `logger("ingest")` → category `["hlbook", "ingest"]`. */
export function logger(module: string): Logger {
  return getLogger(["hlbook", module]);
}

/** Configures logging once for the process (calling it again replaces the configuration). */
export async function setupLogging(level: LogLevel, format: "pretty" | "json"): Promise<void> {
  await reset();
  await configure({
    reset: true,
    sinks: {
      console: getConsoleSink({
        formatter: format === "json"
          ? jsonLinesFormatter
          : getAnsiColorFormatter({ timestamp: "date-time-timezone" }),
      }),
    },
    loggers: [
      { category: ["hlbook"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
