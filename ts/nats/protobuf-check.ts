import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescOneof,
  ScalarType,
} from "@bufbuild/protobuf";

/**
 * Checks a JS value against a protobuf message descriptor, field by field, before it is encoded.
 * `@bufbuild/protobuf`'s `create` and `toBinary` coerce what they are given (a number in a string
 * field is written as its text, a missing object as the empty message), so a payload of the wrong
 * shape would travel as a different, valid message. This check names the field instead.
 */

/** One problem with a value, where it is (Standard Schema's issue shape). */
export interface ProtobufIssue {
  readonly message: string;
  readonly path: readonly PropertyKey[];
}

/** Deeper than this is refused rather than followed: a cycle in the value would never end. */
const MAX_DEPTH = 100;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?[0-9]+$/;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value).slice(0, 40)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function int64Problem(value: unknown, min: bigint, max: bigint, what: string): string | undefined {
  let big: bigint;
  if (typeof value === "bigint") big = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === "string" && DECIMAL.test(value)) big = BigInt(value);
  else return `must be ${what} (a bigint, a safe integer or a decimal string), got ${describe(value)}`;
  return big < min || big > max ? `${big} is out of range for ${what}` : undefined;
}

function int32Problem(value: unknown, min: number, max: number, what: string): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value))
    return `must be ${what} (an integer), got ${describe(value)}`;
  return value < min || value > max ? `${value} is out of range for ${what}` : undefined;
}

/** Why `value` is not a valid `scalar`, or undefined when it is. */
export function scalarProblem(scalar: ScalarType, value: unknown): string | undefined {
  switch (scalar) {
    case ScalarType.STRING:
      return typeof value === "string" ? undefined : `must be a string, got ${describe(value)}`;
    case ScalarType.BOOL:
      return typeof value === "boolean" ? undefined : `must be a boolean, got ${describe(value)}`;
    case ScalarType.BYTES:
      return value instanceof Uint8Array ? undefined : `must be a Uint8Array, got ${describe(value)}`;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return typeof value === "number" ? undefined : `must be a number, got ${describe(value)}`;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return int32Problem(value, INT32_MIN, INT32_MAX, "an int32");
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return int32Problem(value, 0, UINT32_MAX, "a uint32");
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64Problem(value, INT64_MIN, INT64_MAX, "an int64");
    default:
      // UINT64 and FIXED64: the two unsigned 64-bit kinds left.
      return int64Problem(value, 0n, UINT64_MAX, "a uint64");
  }
}

function enumProblem(desc: DescEnum, value: unknown): string | undefined {
  const problem = int32Problem(value, INT32_MIN, INT32_MAX, `a ${desc.typeName} value`);
  if (problem !== undefined || desc.open) return problem;
  // Closed (proto2) enums refuse numbers they do not list.
  return desc.values.some((each) => each.number === value)
    ? undefined
    : `${String(value)} is not a value of ${desc.typeName}`;
}

/** A value of one element kind: a scalar, an enum value or a message. */
interface ElementKind {
  readonly scalar?: ScalarType | undefined;
  readonly enum?: DescEnum | undefined;
  readonly message?: DescMessage | undefined;
}

class Checker {
  readonly issues: ProtobufIssue[] = [];

  private add(path: readonly PropertyKey[], message: string): void {
    this.issues.push({ message, path });
  }

  message(desc: DescMessage, value: unknown, path: readonly PropertyKey[]): void {
    if (!isPlainObject(value)) {
      this.add(path, `must be a ${desc.typeName} object, got ${describe(value)}`);
      return;
    }
    if (path.length > MAX_DEPTH) {
      this.add(path, `is nested deeper than ${MAX_DEPTH} messages`);
      return;
    }
    const typeName = value.$typeName;
    if (typeName !== undefined && typeName !== desc.typeName) {
      this.add(path, `is a ${String(typeName)} message, expected ${desc.typeName}`);
      return;
    }
    for (const key of Object.keys(value)) {
      if (key === "$typeName" || key === "$unknown") continue;
      const member = desc.members.find((each) => each.localName === key);
      const fieldValue = value[key];
      if (member === undefined) this.add([...path, key], `is not a field of ${desc.typeName}`);
      // Unset: the field keeps its default, as in `create`.
      else if (fieldValue === undefined) continue;
      else if (member.kind === "oneof") this.oneof(member, fieldValue, [...path, key]);
      else this.field(member, fieldValue, [...path, key]);
    }
  }

  private oneof(oneof: DescOneof, value: unknown, path: readonly PropertyKey[]): void {
    const names = oneof.fields.map((field) => field.localName).join(", ");
    if (!isPlainObject(value)) {
      this.add(path, `must be { case, value } with case one of ${names}, got ${describe(value)}`);
      return;
    }
    if (value.case === undefined) return;
    const field = oneof.fields.find((each) => each.localName === value.case);
    if (field === undefined) {
      this.add([...path, "case"], `must be one of ${names}, got ${describe(value.case)}`);
      return;
    }
    this.field(field, value.value, [...path, "value"]);
  }

  private field(field: DescField, value: unknown, path: readonly PropertyKey[]): void {
    switch (field.fieldKind) {
      case "list":
        if (!Array.isArray(value)) {
          this.add(path, `must be an array, got ${describe(value)}`);
          return;
        }
        value.forEach((item, index) => {
          this.element(field, item, [...path, index]);
        });
        return;
      case "map":
        if (!isPlainObject(value)) {
          this.add(path, `must be an object (a map), got ${describe(value)}`);
          return;
        }
        for (const [key, item] of Object.entries(value)) {
          const keyProblem = mapKeyProblem(field.mapKey, key);
          if (keyProblem !== undefined) this.add([...path, key], `has a bad key: ${keyProblem}`);
          else this.element(field, item, [...path, key]);
        }
        return;
      default:
        this.element(field, value, path);
    }
  }

  private element(kind: ElementKind, value: unknown, path: readonly PropertyKey[]): void {
    let problem: string | undefined;
    if (kind.message !== undefined) {
      // Well-known types (wrappers, Struct, Timestamp...) may appear unboxed or as JSON values in
      // `@bufbuild/protobuf`'s shapes; their encoder checks them.
      if (!kind.message.typeName.startsWith("google.protobuf.")) this.message(kind.message, value, path);
      return;
    }
    if (kind.enum !== undefined) problem = enumProblem(kind.enum, value);
    else if (kind.scalar !== undefined) problem = scalarProblem(kind.scalar, value);
    if (problem !== undefined) this.add(path, problem);
  }
}

/** Map keys are object keys, so strings: they must spell a value of the key's scalar type. */
function mapKeyProblem(scalar: ScalarType, key: string): string | undefined {
  if (scalar === ScalarType.STRING) return undefined;
  if (scalar === ScalarType.BOOL)
    return key === "true" || key === "false" ? undefined : `must be "true" or "false", got ${key}`;
  if (!DECIMAL.test(key)) return `must be an integer, got ${key.slice(0, 40)}`;
  return scalarProblem(scalar, BigInt(key) <= Number.MAX_SAFE_INTEGER ? Number(key) : BigInt(key));
}

/**
 * The problems of `value` as a message of `desc` (or as its init shape: every field optional),
 * each with the path of the field; empty when it can be encoded as that message unchanged.
 */
export function protobufIssues(desc: DescMessage, value: unknown): readonly ProtobufIssue[] {
  const checker = new Checker();
  checker.message(desc, value, []);
  return checker.issues;
}
