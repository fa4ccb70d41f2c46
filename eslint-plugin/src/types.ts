/**
 * Type questions the type-aware rules ask, answered only when the parser was given a TypeScript
 * project (`parserOptions.projectService` or `project`); without one every helper says "unknown"
 * and the rules fall back to names.
 */
import type { ParserServicesWithTypeInformation, TSESLint, TSESTree } from "@typescript-eslint/utils";
import type * as ts from "typescript";

type Context = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

// `ts.TypeFlags.Any | ts.TypeFlags.Unknown`, spelled as numbers so the plugin never loads
// `typescript` at run time (it is an optional peer: JS-only projects lint without it).
const ANY_OR_UNKNOWN = 1 | 2;
// `ts.TypeFlags.Null | ts.TypeFlags.Undefined | ts.TypeFlags.Void`.
const NULLISH = 65536 | 32768 | 16384;

export function typeServices(context: Context): ParserServicesWithTypeInformation | undefined {
  const services = context.sourceCode.parserServices;
  return services?.program ? (services as ParserServicesWithTypeInformation) : undefined;
}

export function isAnyOrUnknown(type: ts.Type): boolean {
  return (type.flags & ANY_OR_UNKNOWN) !== 0;
}

/** The members of a union without `null`/`undefined`/`void`, or the type itself. */
export function nonNullParts(type: ts.Type): ts.Type[] {
  const parts = type.isUnion() ? type.types : [type];
  return parts.filter((part) => (part.flags & NULLISH) === 0);
}

/** The string literal type of property `name` (`kind: "command"` → "command"), if it is one. */
export function literalProperty(
  services: ParserServicesWithTypeInformation,
  type: ts.Type,
  name: string,
): string | undefined {
  const symbol = type.getProperty(name);
  if (!symbol) return undefined;
  const propertyType = services.program.getTypeChecker().getTypeOfSymbol(symbol);
  return propertyType.isStringLiteral() ? propertyType.value : undefined;
}

/** A Catga `Result`: every member has `ok` and `unwrap` (OkResult | ErrResult). */
export function isResultType(type: ts.Type): boolean {
  const parts = nonNullParts(type);
  return parts.length > 0 && parts.every((part) => part.getProperty("ok") && part.getProperty("unwrap"));
}

/**
 * Whether `node` evaluates to `Promise<Result<…>>`: true / false, or undefined when there is no
 * type information or the type is `any` (the caller then decides by names).
 */
export function returnsResultPromise(context: Context, node: TSESTree.Node): boolean | undefined {
  const services = typeServices(context);
  if (!services) return undefined;
  const type = services.getTypeAtLocation(node);
  if (isAnyOrUnknown(type)) return undefined;
  if (!type.getProperty("then")) return false;
  const awaited = services.program.getTypeChecker().getAwaitedType(type);
  return awaited !== undefined && isResultType(awaited);
}

const BYTE_VIEWS = new Set([
  "Buffer",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
  "DataView",
  "ArrayBufferView",
]);

/** Whether `node` is a Buffer / typed-array view: true / false, undefined without types. */
export function isByteView(context: Context, node: TSESTree.Node): boolean | undefined {
  const services = typeServices(context);
  if (!services) return undefined;
  const type = services.getTypeAtLocation(node);
  if (isAnyOrUnknown(type)) return undefined;
  const parts = nonNullParts(type);
  return parts.length > 0 && parts.every((part) => BYTE_VIEWS.has(part.getSymbol()?.getName() ?? ""));
}

/**
 * Whether `node` is a coded error (a `CatgaError`, a Result's `error`, anything with a required
 * `code` and a `message`): true / false, undefined without types or for `any`/`unknown`.
 */
export function isCodedError(context: Context, node: TSESTree.Node): boolean | undefined {
  const services = typeServices(context);
  if (!services) return undefined;
  const type = services.getTypeAtLocation(node);
  if (isAnyOrUnknown(type)) return undefined;
  const parts = nonNullParts(type);
  // `ts.SymbolFlags.Optional`: an errno error's `code?` is not a stable code to match on.
  const OPTIONAL = 16777216;
  return (
    parts.length > 0 &&
    parts.every((part) => {
      const code = part.getProperty("code");
      return code !== undefined && (code.flags & OPTIONAL) === 0 && part.getProperty("message") !== undefined;
    })
  );
}
