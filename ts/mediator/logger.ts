import { describeThrown } from "../errors.js";
/** Structured logger; pino, winston and console-like loggers fit with a thin adapter. */
export interface Logger {
  /** Detail for diagnosis, usually off in production. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Normal operation. `fields` are structured facts (ids, type, duration); never interpolated. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something went wrong but is reported to its caller (a failed message, by default). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** A failure that needs attention (a handler that threw: CATGA_HANDLER_FAILED). */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The lowest level a logger writes; `"silent"` writes nothing. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function noop(): void {}

/** Drops everything. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** One line per entry on stderr/stdout: `level message key=value ...`. Levels below `level` are dropped. */
export function consoleLogger(options: { level?: LogLevel } = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const line =
    (level: Exclude<LogLevel, "silent">, write: (text: string) => void) =>
    (message: string, fields?: Record<string, unknown>): void => {
      let text = `${level} ${message}`;
      if (fields !== undefined) {
        for (const key of Object.keys(fields)) {
          const value = fields[key];
          if (value !== undefined)
            text += ` ${key}=${typeof value === "string" ? value : JSON.stringify(value)}`;
        }
      }
      write(text);
    };
  return {
    debug: min <= RANK.debug ? line("debug", console.debug) : noop,
    info: min <= RANK.info ? line("info", console.info) : noop,
    warn: min <= RANK.warn ? line("warn", console.warn) : noop,
    error: min <= RANK.error ? line("error", console.error) : noop,
  };
}

/**
 * For user callbacks that only observe (the logger, `onStateChange`): their failure must not change
 * a message's outcome, so it is swallowed. The first one per reporter becomes a process warning, so a
 * broken sink is not silent, without a warning per message.
 */
export function observerFailureReporter(source: string): (thrown: unknown) => void {
  let warned = false;
  return (thrown) => {
    if (warned) return;
    warned = true;
    const reason = describeThrown(thrown);
    process.emitWarning(`${source} threw (ignored, later failures not reported): ${reason}`, "CatgaWarning");
  };
}
