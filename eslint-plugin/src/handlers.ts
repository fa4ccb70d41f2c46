/**
 * Finding handler functions: the function given to a builder's `.handle(Contract, handler)`,
 * written inline or named (a function declaration or a `const` in the same file).
 */
import { AST_NODE_TYPES as T, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import { type FunctionNode, initialValue, isFunction, methodName } from "./syntax.js";

type Context = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

/** `x.handle(Contract, handler)`: a builder registration. */
export function isHandleCall(node: TSESTree.Node): node is TSESTree.CallExpression {
  return node.type === T.CallExpression && methodName(node) === "handle" && node.arguments.length >= 2;
}

/** The handler function a `.handle(...)` call registers, when it can be found in this file. */
export function handlerOf(context: Context, call: TSESTree.CallExpression): FunctionNode | undefined {
  const handler = call.arguments[1];
  if (!handler) return undefined;
  if (isFunction(handler)) return handler;
  if (handler.type !== T.Identifier) return undefined;
  const value = initialValue(context, handler);
  return value && isFunction(value) ? value : undefined;
}

/**
 * Collects handler functions while a rule walks the file. Handlers may be declared after their
 * registration, so rules gather candidates and ask `inHandler` at `Program:exit`.
 */
export class HandlerIndex {
  readonly #handlers = new Set<TSESTree.Node>();

  constructor(private readonly context: Context) {}

  /** Call from a `CallExpression` visitor. */
  visit(node: TSESTree.CallExpression): void {
    if (!isHandleCall(node)) return;
    const handler = handlerOf(this.context, node);
    if (handler) this.#handlers.add(handler);
  }

  /** The innermost handler function around `node` (nested functions inside it count), if any. */
  handlerAround(node: TSESTree.Node): FunctionNode | undefined {
    for (let at = node.parent; at; at = at.parent) if (isFunction(at) && this.#handlers.has(at)) return at;
    return undefined;
  }
}
