/**
 * Leveled logging for a node: lines to stderr and, when a log dir is set, to
 * `stdout.log` there. Access logs have their own buffered writer
 * (`buffered_line_writer.ts`).
 *
 * @module
 */

import type { Logger } from "../filters/filter.ts";
import { errorText } from "./error_text.ts";
import { joinPath } from "./paths.ts";

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const encoder = new TextEncoder();

/** Where log lines go: stderr and an optional file. */
export class LogSink {
  #file: Deno.FsFile | undefined;
  #min: number;

  constructor(options: { level?: LogLevel; file?: Deno.FsFile } = {}) {
    this.#min = RANK[options.level ?? "info"];
    this.#file = options.file;
  }

  /** Writes one line if `level` is enabled. */
  write(level: LogLevel, scope: string, message: string): void {
    if (RANK[level] < this.#min) return;
    const line = `${new Date().toISOString()}\t${level.toUpperCase()}\t${scope}\t${message}\n`;
    const bytes = encoder.encode(line);
    try {
      Deno.stderr.writeSync(bytes);
    } catch { /* stderr closed: keep going */ }
    try {
      this.#file?.writeSync(bytes);
    } catch { /* disk full or closed: logging must not break traffic */ }
  }

  /** A logger whose lines carry `scope`. */
  logger(scope: string): Logger {
    return {
      debug: (m) => this.write("debug", scope, m),
      info: (m) => this.write("info", scope, m),
      warn: (m) => this.write("warn", scope, m),
      error: (m) => this.write("error", scope, m),
    };
  }

  /** Closes the log file. */
  close(): void {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = undefined;
  }
}

/**
 * Opens the log file `name` in `logDir` for appending. Throws naming the file
 * and `--log-dir`, the option that placed it: the bare OS error named neither.
 */
export async function openLogFile(logDir: string, name: string): Promise<Deno.FsFile> {
  const path = joinPath(logDir, name);
  try {
    return await Deno.open(path, { append: true, create: true });
  } catch (e) {
    throw new Error(`--log-dir: cannot open the log file ${path}: ${errorText(e)}`);
  }
}

/** A logger that drops everything (tests, tools). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
