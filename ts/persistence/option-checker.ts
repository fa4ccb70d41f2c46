import {
  describe,
  type FieldCheck,
  func,
  IssueList,
  integer,
  isRecord,
  nonEmptyString,
  number,
  or,
  withMethods,
} from "../checks.js";
import { validIdent } from "./pg.js";

const pgIdentifier: FieldCheck = (value) =>
  typeof value === "string" && validIdent(value)
    ? undefined
    : `must be a PostgreSQL identifier (1-63 characters), got ${describe(value)}`;

/**
 * Reads a store's constructor options through the shared checks (ts/checks.ts), with defaults:
 * every bad or unknown field is collected, then `done()` throws one CatgaConfigError listing them.
 */
export class OptionChecker {
  private readonly list = new IssueList();
  private readonly options: Record<string, unknown>;

  constructor(
    private readonly prefix: string,
    options: unknown,
    known: readonly string[],
  ) {
    if (!isRecord(options)) {
      this.list.add(prefix, `options must be an object, got ${describe(options)}`);
      this.options = {};
      return;
    }
    this.options = options;
    for (const key of Object.keys(options))
      if (!known.includes(key))
        this.list.add(`${prefix}.${key}`, `unknown option (expected one of: ${known.join(", ")})`);
  }

  /** Checks field `name`; true when it is absent (and not required) or valid. */
  private check(name: string, check: FieldCheck, required = false): boolean {
    const value = this.options[name];
    if (value === undefined && !required) return true;
    const problem = value === undefined ? "is required" : check(value);
    if (problem !== undefined) this.list.add(`${this.prefix}.${name}`, problem);
    return problem === undefined;
  }

  /** Any other field: `valid` judges its value (an absent one only when `required`). */
  field(name: string, valid: (value: unknown) => boolean, message: string, required = false): void {
    this.check(name, (value) => (valid(value) ? undefined : `${message}, got ${describe(value)}`), required);
  }

  /** An integer >= `min`. */
  int(name: string, fallback: number, min = 1): number {
    const value = this.options[name];
    return value !== undefined && this.check(name, integer(min)) ? (value as number) : fallback;
  }

  /** A number >= 0 (finite unless `infinity`). */
  number(name: string, fallback: number, infinity = false): number {
    const value = this.options[name];
    const check = infinity ? or(number(0), Number.POSITIVE_INFINITY) : number(0);
    return value !== undefined && this.check(name, check) ? (value as number) : fallback;
  }

  /** A PostgreSQL identifier or a key prefix: a non-empty string. */
  text(name: string, identifier: boolean): string | undefined {
    const value = this.options[name];
    return value !== undefined && this.check(name, identifier ? pgIdentifier : nonEmptyString)
      ? (value as string)
      : undefined;
  }

  /** An object with these methods (a driver client, a publisher). */
  methods(name: string, ...methods: string[]): void {
    this.check(name, withMethods(...methods), true);
  }

  function(name: string): void {
    this.check(name, func);
  }

  /** An issue with something that is not one of the options (a positional argument). */
  add(path: string, message: string): void {
    this.list.add(path, message);
  }

  /** Throws one CatgaConfigError listing every issue found. */
  done(): void {
    this.list.throwIfAny();
  }
}
