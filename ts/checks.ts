/**
 * The one vocabulary for checking what users pass in: a `FieldCheck` per field (returns why a
 * value is wrong, or undefined), an `IssueList` that collects every problem of an options object
 * (unknown keys included) and throws them together as one `CatgaConfigError`, and
 * `checkArgument` for a single argument of a call (a `CATGA_INVALID_ARGUMENT`). Options are
 * rejected, never clamped.
 */
import { CatgaConfigError, CatgaError, type ConfigIssue, ErrorCodes } from "./errors.js";

/** Returns why a value is invalid, or undefined when it is fine. */
export type FieldCheck = (value: unknown) => string | undefined;

/** Collects every configuration problem so they can be reported in one `CatgaConfigError`. */
export class IssueList {
  readonly issues: ConfigIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /**
   * Checks an options object field by field. Unknown keys are issues too: a typo must not fall
   * back to a default silently. Returns the object (or `{}` when absent/invalid) for defaults.
   */
  checkObject(path: string, value: unknown, fields: Record<string, FieldCheck>): Record<string, unknown> {
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.add(path, `must be an object, got ${describe(value)}`);
      return {};
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const check = fields[key];
      if (check === undefined) {
        this.add(join(path, key), `unknown option (expected one of: ${Object.keys(fields).join(", ")})`);
        continue;
      }
      if (record[key] === undefined) continue;
      const problem = check(record[key]);
      if (problem !== undefined) this.add(join(path, key), problem);
    }
    return record;
  }

  /** Throws one CatgaConfigError listing every issue collected so far (nothing when none). */
  throwIfAny(): void {
    if (this.issues.length > 0) throw new CatgaConfigError(this.issues);
  }

  /** Checks a value given on its own (a `with*` setter), where undefined is a mistake, not "absent". */
  checkValue(path: string, value: unknown, check: FieldCheck): void {
    const problem = value === undefined ? "is required, got undefined" : check(value);
    if (problem !== undefined) this.add(path, problem);
  }
}

/**
 * An unknown-option issue from a check that knows only part of an options object (the NATS
 * connection's part of the transport's, say), with the other part's options added to its list.
 */
export function alsoExpected(issue: ConfigIssue, more: readonly string[]): ConfigIssue {
  const listed = /^unknown option \(expected one of: (.*)\)$/.exec(issue.message);
  if (listed === null) return issue;
  return { path: issue.path, message: `unknown option (expected one of: ${listed[1]}, ${more.join(", ")})` };
}

/** `path.key`, or `key` at the top level (path ""). */
function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/**
 * The longest delay `setTimeout` honours (2^31 − 1 ms, about 24.8 days): a longer one fires after
 * about 1 ms instead, so delay options are capped here rather than misbehave at run time.
 */
export const MAX_DELAY_MS = 2_147_483_647;

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  return typeof value;
}

export const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): FieldCheck =>
  (value) =>
    typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
      ? undefined
      : `must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "2^53 - 1" : max}], got ${describe(value)}`;

export const number =
  (min: number, max = Number.POSITIVE_INFINITY, minExclusive = false): FieldCheck =>
  (value) =>
    typeof value === "number" &&
    Number.isFinite(value) &&
    (minExclusive ? value > min : value >= min) &&
    value <= max
      ? undefined
      : `must be a finite number ${minExclusive ? ">" : ">="} ${min}${max === Number.POSITIVE_INFINITY ? "" : ` and <= ${max}`}, got ${describe(value)}`;

export const oneOf =
  (allowed: readonly string[]): FieldCheck =>
  (value) =>
    typeof value === "string" && allowed.includes(value)
      ? undefined
      : `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${describe(value)}`;

export const boolean: FieldCheck = (value) =>
  typeof value === "boolean" ? undefined : `must be a boolean, got ${describe(value)}`;

export const func: FieldCheck = (value) =>
  typeof value === "function" ? undefined : `must be a function, got ${describe(value)}`;

export const stringList: FieldCheck = (value) =>
  Array.isArray(value) && value.every((v) => typeof v === "string" && v.length > 0)
    ? undefined
    : `must be an array of non-empty strings, got ${describe(value)}`;

export const withMethods =
  (...methods: string[]): FieldCheck =>
  (value) =>
    typeof value === "object" &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function")
      ? undefined
      : `must be an object with methods ${methods.join(", ")}`;

/** Record of message type → number in [min, max] (per-contract overrides). */
export const perTypeNumber =
  (min: number, max = Number.POSITIVE_INFINITY): FieldCheck =>
  (value) => {
    if (!isRecord(value)) {
      return `must be an object of message type → number, got ${describe(value)}`;
    }
    for (const [type, v] of Object.entries(value)) {
      if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
        return `entry "${type}" must be a finite number >= ${min}${max === Number.POSITIVE_INFINITY ? "" : ` and <= ${max}`}, got ${describe(v)}`;
      }
    }
    return undefined;
  };

/** A plain object (not null, not an array): what `checkObject` and `perTypeNumber` accept. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export const nonEmptyString: FieldCheck = (value) =>
  typeof value === "string" && value.length > 0
    ? undefined
    : `must be a non-empty string, got ${describe(value)}`;

/**
 * The longest name that becomes part of a NATS subject (a prefix, a service, a stream): a subject
 * travels in the protocol's control line (4 KiB by default), and the server drops the connection
 * over a longer one, which the caller would only see as a timeout.
 */
export const MAX_SUBJECT_NAME_LENGTH = 200;

/** `check`, after refusing a string longer than `max` characters (a length the message names). */
export const atMost =
  (max: number, check: FieldCheck): FieldCheck =>
  (value) =>
    typeof value === "string" && value.length > max
      ? `must be at most ${max} characters, got ${value.length}`
      : check(value);

/** A name without spaces, dots or wildcards (a NATS subject token, a stream or consumer name). */
export const token: FieldCheck = atMost(MAX_SUBJECT_NAME_LENGTH, (value) =>
  typeof value === "string" && /^[^\s.*>]+$/.test(value)
    ? undefined
    : `must be a non-empty name without spaces, dots or wildcards, got ${describe(value)}`,
);

/** An array whose every item passes `item` (reported with the first failing index). */
export const listOf =
  (item: FieldCheck, { nonEmpty = false } = {}): FieldCheck =>
  (value) => {
    if (!Array.isArray(value)) return `must be an array, got ${describe(value)}`;
    if (nonEmpty && value.length === 0) return "must not be empty";
    for (let i = 0; i < value.length; i++) {
      const problem = item(value[i]);
      if (problem !== undefined) return `[${i}] ${problem}`;
    }
    return undefined;
  };

/** `check`, or one of the listed special values (e.g. `-1` for "no limit", `Infinity`). */
export const or =
  (check: FieldCheck, ...special: readonly unknown[]): FieldCheck =>
  (value) => {
    if (special.includes(value)) return undefined;
    const problem = check(value);
    return problem && `${problem} (or ${special.map((v) => describe(v)).join(", ")})`;
  };

/**
 * Checks an options argument of a call (not a configuration): throws CATGA_INVALID_ARGUMENT naming
 * the first bad field, an unknown key included (a misspelt `limt` must not fall back to the
 * default silently). `undefined` passes, as for {@link checkArgument}.
 */
export function checkOptionsArgument(
  field: string,
  value: unknown,
  fields: Record<string, FieldCheck>,
): void {
  if (value === undefined) return;
  const issues = new IssueList();
  issues.checkObject(field, value, fields);
  const first = issues.issues[0];
  if (first !== undefined)
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${first.path} ${first.message}`, {
      details: { field: first.path },
    });
}

/**
 * Checks one argument of a call: throws CATGA_INVALID_ARGUMENT naming `field` when `check`
 * finds a problem (`undefined` passes: absent arguments take their default).
 */
export function checkArgument(field: string, value: unknown, check: FieldCheck): void {
  if (value === undefined) return;
  const problem = check(value);
  if (problem !== undefined)
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${field} ${problem}`, { details: { field } });
}
