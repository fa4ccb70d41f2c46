import { CatgaConfigError, type ConfigIssue } from "../errors.js";
import { validIdent } from "./pg.js";

/**
 * Checks constructor options the way the rest of Catga does: every bad or unknown field is
 * collected, then one CatgaConfigError lists them all.
 */
export class OptionChecker {
  private readonly issues: ConfigIssue[] = [];
  private readonly options: Record<string, unknown>;

  constructor(
    private readonly prefix: string,
    options: unknown,
    known: readonly string[],
  ) {
    if (typeof options !== "object" || options === null) {
      this.issues.push({ path: prefix, message: "options must be an object" });
      this.options = {};
      return;
    }
    this.options = options as Record<string, unknown>;
    for (const key of Object.keys(this.options)) {
      if (!known.includes(key)) {
        this.issues.push({
          path: `${prefix}.${key}`,
          message: `unknown option (expected one of: ${known.join(", ")})`,
        });
      }
    }
  }

  private bad(name: string, message: string, value: unknown): void {
    this.issues.push({ path: `${this.prefix}.${name}`, message: `${message}, got ${showValue(value)}` });
  }

  /** Any other field: `valid` judges its value (an absent one only when `required`). */
  field(name: string, valid: (value: unknown) => boolean, message: string, required = false): void {
    const value = this.options[name];
    if (value === undefined && !required) return;
    if (!valid(value)) this.bad(name, message, value);
  }

  /** An integer >= `min`. */
  int(name: string, fallback: number, min = 1): number {
    const value = this.options[name];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      this.bad(name, `must be an integer >= ${min}`, value);
      return fallback;
    }
    return value;
  }

  /** A number >= 0 (finite unless `infinity`). */
  number(name: string, fallback: number, infinity = false): number {
    const value = this.options[name];
    if (value === undefined) return fallback;
    if (
      typeof value !== "number" ||
      Number.isNaN(value) ||
      value < 0 ||
      (!infinity && !Number.isFinite(value))
    ) {
      this.bad(
        name,
        `must be a ${infinity ? "" : "finite "}number >= 0${infinity ? " (Infinity allowed)" : ""}`,
        value,
      );
      return fallback;
    }
    return value;
  }

  /** A PostgreSQL identifier or a key prefix: a non-empty string. */
  text(name: string, identifier: boolean): string | undefined {
    const value = this.options[name];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.length === 0 || (identifier && !validIdent(value))) {
      this.bad(
        name,
        identifier ? "must be a PostgreSQL identifier (1-63 characters)" : "must be a string",
        value,
      );
      return undefined;
    }
    return value;
  }

  /** An object with these methods (a driver client, a publisher). */
  methods(name: string, ...methods: string[]): void {
    const value = this.options[name] as Record<string, unknown> | undefined;
    if (typeof value !== "object" || value === null || methods.some((m) => typeof value[m] !== "function")) {
      this.issues.push({
        path: `${this.prefix}.${name}`,
        message: `must be an object with ${methods.map((m) => `${m}()`).join(", ")}`,
      });
    }
  }

  function(name: string): void {
    const value = this.options[name];
    if (value !== undefined && typeof value !== "function") this.bad(name, "must be a function", value);
  }

  /** Throws one CatgaConfigError listing every issue found. */
  done(): void {
    if (this.issues.length > 0) throw new CatgaConfigError(this.issues);
  }
}

/** A value as an option error shows it: NaN and Infinity as such, never a throw (circular objects). */
function showValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "function") return "a function";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
