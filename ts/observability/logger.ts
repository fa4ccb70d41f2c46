import { createRequire } from "node:module";
import { IssueList, oneOf } from "../checks.js";
import { consoleLogger, LOG_LEVELS, type Logger, type LogLevel } from "../mediator/logger.js";
import { PRESET_NAMES, type PresetName } from "../mediator/presets.js";
import { loadOtelApi, type OtelApi } from "./otel.js";

type Fields = Record<string, unknown>;

/** The part of a pino logger used here (`pino()` and its children fit, with no adapter). */
export interface PinoLike {
  /** Writes at debug level: pino's `(mergingObject, message)` call. */
  debug(fields: object, message?: string): void;
  /** Writes at info level. */
  info(fields: object, message?: string): void;
  /** Writes at warn level. */
  warn(fields: object, message?: string): void;
  /** Writes at error level. */
  error(fields: object, message?: string): void;
  /** pino's own level; not read here (pino filters by it before anything is written). */
  level?: string;
}

/** Log level each preset starts from (the logging behavior's own levels decide what is written). */
export const PRESET_LOG_LEVELS: Readonly<Record<PresetName, Exclude<LogLevel, "silent">>> = Object.freeze({
  development: "debug",
  production: "info",
  highPerformance: "warn",
});

/**
 * Adapts pino (or anything with pino's `(fields, message)` methods) to Catga's `Logger`
 * `(message, fields)`: the mediator's fields (`messageId`, `correlationId`, `type`, `kind`,
 * `durationMs`, `code`...) become pino's structured fields, plus `trace_id` / `span_id` of the
 * active span when OpenTelemetry is present.
 */
export function pinoLogger(pino: PinoLike, options: { traceContext?: boolean } = {}): Logger {
  const api = options.traceContext === false ? undefined : loadOtelApi();
  const write =
    (level: "debug" | "info" | "warn" | "error") =>
    (message: string, fields?: Fields): void => {
      pino[level](withTrace(api, fields) ?? {}, message);
    };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/** Adds `trace_id` / `span_id` of the active span to every entry of a Catga `Logger` (log ↔ trace correlation). */
export function tracedLogger(logger: Logger, options: { api?: unknown } = {}): Logger {
  const api = (options.api as OtelApi | undefined) ?? loadOtelApi();
  if (api === undefined) return logger;
  return {
    debug: (message, fields) => logger.debug(message, withTrace(api, fields)),
    info: (message, fields) => logger.info(message, withTrace(api, fields)),
    warn: (message, fields) => logger.warn(message, withTrace(api, fields)),
    error: (message, fields) => logger.error(message, withTrace(api, fields)),
  };
}

function withTrace(api: OtelApi | undefined, fields: Fields | undefined): Fields | undefined {
  if (api === undefined) return fields;
  const span = api.trace.getSpan(api.context.active());
  if (span === undefined) return fields;
  const { traceId, spanId } = span.spanContext();
  if (!api.isValidTraceId(traceId)) return fields;
  return { ...fields, trace_id: traceId, span_id: spanId };
}

/** Options of `createLogger`. */
export interface CreateLoggerOptions {
  /**
   * Picks the level: development debug, production info, highPerformance warn
   * (`PRESET_LOG_LEVELS`); {@link CreateLoggerOptions.level} overrides it.
   * @default "production"
   */
  readonly preset?: PresetName;
  /**
   * Overrides the preset's level; "silent" skips pino and logs nothing. Ignored when
   * {@link CreateLoggerOptions.pino} is given (pino keeps its own level).
   * @default the preset's level
   */
  readonly level?: LogLevel;
  /**
   * A pino instance to adapt (with trace ids when OpenTelemetry is present).
   * @default `pino({ level })` if pino is installed, else the console logger
   */
  readonly pino?: PinoLike;
}

/**
 * The default structured logger: pino when installed (optional dependency), else Catga's console
 * logger, at the preset's level, with trace ids when OpenTelemetry is present.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const issues = new IssueList();
  issues.checkObject("createLogger", options, {
    preset: oneOf(PRESET_NAMES),
    level: oneOf(LOG_LEVELS),
    pino: (value) =>
      typeof (value as { info?: unknown } | null)?.info === "function" ? undefined : "must be a pino logger",
  });
  issues.throwIfAny();
  const level = options.level ?? PRESET_LOG_LEVELS[options.preset ?? "production"];
  if (options.pino !== undefined) return pinoLogger(options.pino);
  if (level !== "silent") {
    try {
      const pino = createRequire(import.meta.url)("pino") as (options: { level: string }) => PinoLike;
      return pinoLogger(pino({ level }));
    } catch {
      // pino not installed: fall through to the console logger
    }
  }
  return tracedLogger(consoleLogger({ level }));
}
