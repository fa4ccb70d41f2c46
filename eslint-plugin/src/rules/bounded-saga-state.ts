/**
 * bounded-saga-state: a saga's state is read and written whole at every step (PostgreSQL row, KV
 * entry), so a state that can grow without bound (an array, a Map or Set, a record keyed by any
 * string) makes each step slower the longer the saga lives, until a store limit fails it. Keep
 * lists elsewhere (a table, a stream) and ids in the state. Seed 014.
 */
import type { TSESTree } from "@typescript-eslint/utils";
import type * as ts from "typescript";
import { createRule } from "../rule.js";
import { typeServices } from "../types.js";

type MessageIds = "unbounded" | "tooLarge";
type Options = [{ readonly maxBytes?: number; readonly stringBytes?: number }];

// `ts.TypeFlags`, spelled as numbers so the plugin never loads `typescript` at run time.
const F = {
  anyOrUnknown: 1 | 2,
  string: 4,
  number: 8 | 256 | 32 | 1024, // number, number literal, enum, enum literal
  boolean: 16 | 512,
  bigint: 64 | 2048,
  stringLiteral: 128,
  templateLiteral: 134217728,
  nullish: 65536 | 32768 | 16384 | 131072, // null, undefined, void, never
  symbol: 4096 | 8192,
} as const;

/** Why a type is unbounded, with the path to it, or its estimated encoded size. */
type Estimate = { readonly bytes: number } | { readonly unbounded: string; readonly path: string };

const UNBOUNDED_CONTAINERS = new Set(["Map", "Set", "ReadonlyMap", "ReadonlySet", "WeakMap", "WeakSet"]);
/** Deeper than this, a type is taken as unbounded (a recursive type is). */
const MAX_DEPTH = 12;

class StateSize {
  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly stringBytes: number,
  ) {}

  of(type: ts.Type, path: string, depth: number): Estimate {
    if (depth > MAX_DEPTH) return { unbounded: "is recursive (or nested too deep to bound)", path };
    const flags = type.flags;
    if (flags & F.anyOrUnknown) return { unbounded: "is `any` or `unknown`, so its size has no bound", path };
    if (flags & F.nullish) return { bytes: 1 };
    if (flags & F.stringLiteral) return { bytes: 2 + (type as ts.StringLiteralType).value.length };
    if (flags & (F.string | F.templateLiteral)) return { bytes: this.stringBytes };
    if (flags & F.number) return { bytes: 9 };
    if (flags & F.boolean) return { bytes: 1 };
    if (flags & F.bigint) return { bytes: 17 };
    if (flags & F.symbol) return { bytes: 0 };
    if (type.isUnion()) return this.largest(type.types, path, depth);
    if (type.isIntersection()) return this.sum(type.types.map((part) => this.of(part, path, depth + 1)));
    return this.object(type, path, depth);
  }

  private largest(parts: readonly ts.Type[], path: string, depth: number): Estimate {
    let bytes = 0;
    for (const part of parts) {
      const each = this.of(part, path, depth + 1);
      if ("unbounded" in each) return each;
      bytes = Math.max(bytes, each.bytes);
    }
    return { bytes };
  }

  private sum(estimates: readonly Estimate[]): Estimate {
    let bytes = 0;
    for (const each of estimates) {
      if ("unbounded" in each) return each;
      bytes += each.bytes;
    }
    return { bytes };
  }

  private object(type: ts.Type, path: string, depth: number): Estimate {
    const checker = this.checker;
    if (checker.isTupleType(type))
      return this.sum(
        checker
          .getTypeArguments(type as ts.TypeReference)
          .map((element, i) => this.of(element, `${path}[${i}]`, depth + 1)),
      );
    if (checker.isArrayType(type)) return { unbounded: "is an array with no bound on its length", path };
    const name = type.getSymbol()?.getName();
    if (name !== undefined && UNBOUNDED_CONTAINERS.has(name))
      return { unbounded: `is a ${name}, which can grow without bound`, path };
    if (name === "Date") return { bytes: 9 };
    if (name === "Uint8Array" || name === "Buffer" || name === "ArrayBuffer")
      return { unbounded: `is a ${name} with no bound on its length`, path };
    if (checker.getIndexInfosOfType(type).length > 0)
      return {
        unbounded: "has an index signature (a record keyed by any string), so it can grow without bound",
        path,
      };
    if (type.getCallSignatures().length > 0) return { bytes: 0 }; // functions are not stored
    const properties = checker.getPropertiesOfType(type);
    let bytes = 1;
    for (const property of properties) {
      const propertyType = checker.getTypeOfSymbol(property);
      const each = this.of(
        propertyType,
        path ? `${path}.${property.getName()}` : property.getName(),
        depth + 1,
      );
      if ("unbounded" in each) return each;
      bytes += 1 + property.getName().length + each.bytes;
    }
    return { bytes };
  }
}

/** `defineSaga<State>(...)`: the type argument node, if written. */
function stateArgument(node: TSESTree.CallExpression): TSESTree.TypeNode | undefined {
  if (node.callee.type !== "Identifier" || node.callee.name !== "defineSaga") return undefined;
  return node.typeArguments?.params[0];
}

export default createRule<Options, MessageIds>({
  name: "bounded-saga-state",
  meta: {
    type: "problem",
    docs: {
      description:
        "Require saga state types with a bound: no arrays, Maps, Sets or string-keyed records, and an estimated size under 1 KiB",
      recommended: true,
      typeAware: true,
    },
    schema: [
      {
        type: "object",
        properties: {
          maxBytes: { type: "integer", minimum: 1 },
          stringBytes: { type: "integer", minimum: 1 },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      unbounded:
        "Saga state `{{state}}`: {{where}} {{why}}. The state is read and written whole at every step; keep the list elsewhere and an id here.",
      tooLarge:
        "Saga state `{{state}}` is estimated at {{bytes}} bytes (over {{max}}); the state is read and written whole at every step. Keep large data elsewhere and ids here.",
    },
  },
  defaultOptions: [{ maxBytes: 1024, stringBytes: 64 }],
  create(context, [options]) {
    const services = typeServices(context);
    // Without a TypeScript program there is no type to measure.
    if (!services) return {};
    const checker = services.program.getTypeChecker();
    const size = new StateSize(checker, options.stringBytes ?? 64);
    const maxBytes = options.maxBytes ?? 1024;
    return {
      CallExpression(node) {
        const argument = stateArgument(node);
        if (argument === undefined) return;
        const state = context.sourceCode.getText(argument);
        const estimate = size.of(services.getTypeAtLocation(argument), "", 0);
        if ("unbounded" in estimate)
          context.report({
            node: argument,
            messageId: "unbounded",
            data: {
              state,
              where: estimate.path ? `field \`${estimate.path}\`` : "it",
              why: estimate.unbounded,
            },
          });
        else if (estimate.bytes > maxBytes)
          context.report({
            node: argument,
            messageId: "tooLarge",
            data: { state, bytes: String(estimate.bytes), max: String(maxBytes) },
          });
      },
    };
  },
});
