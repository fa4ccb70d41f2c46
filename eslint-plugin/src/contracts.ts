/**
 * Recognising contract tokens without type information: `defineCommand(…)` / `defineQuery(…)` /
 * `defineEvent(…)` chains (`.payload<P>()`, `.returns<R>()`, `.durable()`) written in this file,
 * and with type information: the token's `kind` and `delivery` literal types.
 */
import { AST_NODE_TYPES as T, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import { initialValue, methodName, unwrapExpression } from "./syntax.js";
import { literalProperty, typeServices } from "./types.js";

type Context = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

export interface ContractInfo {
  readonly kind: "command" | "query" | "event";
  readonly durable: boolean;
}

const DEFINERS: Readonly<Record<string, ContractInfo["kind"]>> = {
  defineCommand: "command",
  defineQuery: "query",
  defineEvent: "event",
};

/** What a contract expression is, or undefined when it cannot be told. */
export function contractInfo(context: Context, node: TSESTree.Node, depth = 0): ContractInfo | undefined {
  return contractFromTypes(context, node) ?? contractFromSyntax(context, node, depth);
}

function contractFromTypes(context: Context, node: TSESTree.Node): ContractInfo | undefined {
  const services = typeServices(context);
  if (!services) return undefined;
  const type = services.getTypeAtLocation(node);
  const kind = literalProperty(services, type, "kind");
  if (kind !== "command" && kind !== "query" && kind !== "event") return undefined;
  return { kind, durable: literalProperty(services, type, "delivery") === "durable" };
}

function contractFromSyntax(context: Context, node: TSESTree.Node, depth: number): ContractInfo | undefined {
  if (depth > 4) return undefined;
  let at = unwrapExpression(node);
  if (at.type === T.Identifier) {
    const value = initialValue(context, at);
    return value ? contractFromSyntax(context, value, depth + 1) : undefined;
  }
  let durable = false;
  while (at.type === T.CallExpression) {
    const method = methodName(at);
    if (method === undefined) {
      if (at.callee.type !== T.Identifier) return undefined;
      const kind = DEFINERS[at.callee.name];
      return kind ? { kind, durable } : undefined;
    }
    if (method === "durable") durable = true;
    else if (method !== "payload" && method !== "returns") return undefined;
    const receiver = unwrapExpression((at.callee as TSESTree.MemberExpression).object);
    if (receiver.type === T.Identifier) {
      const base = contractFromSyntax(context, receiver, depth + 1);
      return base && { kind: base.kind, durable: durable || base.durable };
    }
    at = receiver;
  }
  return undefined;
}
