/**
 * Syntax questions the rules share: which function encloses a node, what a name is bound to,
 * whether a node lies inside another. Pure AST and scope lookups, no type information.
 */
import { ASTUtils, AST_NODE_TYPES as T, type TSESLint, type TSESTree } from "@typescript-eslint/utils";

export type FunctionNode =
  | TSESTree.ArrowFunctionExpression
  | TSESTree.FunctionDeclaration
  | TSESTree.FunctionExpression;

export function isFunction(node: TSESTree.Node): node is FunctionNode {
  return (
    node.type === T.ArrowFunctionExpression ||
    node.type === T.FunctionDeclaration ||
    node.type === T.FunctionExpression
  );
}

/** The nearest function around `node` (not `node` itself), or undefined at module level. */
export function enclosingFunction(node: TSESTree.Node): FunctionNode | undefined {
  for (let at = node.parent; at; at = at.parent) if (isFunction(at)) return at;
  return undefined;
}

export function contains(outer: TSESTree.Node, inner: TSESTree.Node): boolean {
  return outer.range[0] <= inner.range[0] && inner.range[1] <= outer.range[1];
}

/** `a.b.name` or `a["name"]`: the static property name of a member access. */
export function propertyName(node: TSESTree.Node): string | undefined {
  if (node.type !== T.MemberExpression) return undefined;
  if (!node.computed && node.property.type === T.Identifier) return node.property.name;
  if (node.computed && node.property.type === T.Literal && typeof node.property.value === "string")
    return node.property.value;
  return undefined;
}

/** `obj.method(...)` with a static method name: that name, else undefined. */
export function methodName(call: TSESTree.CallExpression): string | undefined {
  return propertyName(call.callee);
}

/** Strips `x!`, `x as T`, `<T>x`, `x satisfies T` and parentheses-free chains down to the value. */
export function unwrapExpression(node: TSESTree.Node): TSESTree.Node {
  let at = node;
  while (
    at.type === T.TSNonNullExpression ||
    at.type === T.TSAsExpression ||
    at.type === T.TSTypeAssertion ||
    at.type === T.TSSatisfiesExpression ||
    at.type === T.ChainExpression
  )
    at = at.expression;
  return at;
}

/** The identifier (or `this`) a member chain starts from: `a` for `a.b[c].d`. */
export function rootOf(node: TSESTree.Node): TSESTree.Identifier | TSESTree.ThisExpression | undefined {
  let at = unwrapExpression(node);
  while (at.type === T.MemberExpression) at = unwrapExpression(at.object);
  return at.type === T.Identifier || at.type === T.ThisExpression ? at : undefined;
}

/** The last name of a receiver: `ctx` for `ctx`, `catga` for `this.catga`, undefined otherwise. */
export function receiverName(node: TSESTree.Node): string | undefined {
  const at = unwrapExpression(node);
  if (at.type === T.Identifier) return at.name;
  return propertyName(at);
}

export function variableOf(
  context: Readonly<TSESLint.RuleContext<string, readonly unknown[]>>,
  id: TSESTree.Identifier,
): TSESLint.Scope.Variable | undefined {
  return ASTUtils.findVariable(context.sourceCode.getScope(id), id) ?? undefined;
}

/**
 * The value an identifier was initialised with when it is a `const`-like binding declared once
 * (`const X = …`, `function X() {}`), else undefined (parameters, imports, reassigned lets).
 */
export function initialValue(
  context: Readonly<TSESLint.RuleContext<string, readonly unknown[]>>,
  id: TSESTree.Identifier,
): TSESTree.Node | undefined {
  const variable = variableOf(context, id);
  const def = variable?.defs.length === 1 ? variable.defs[0] : undefined;
  if (!variable || !def) return undefined;
  if (def.node.type === T.FunctionDeclaration) return def.node;
  if (def.node.type !== T.VariableDeclarator || def.node.id.type !== T.Identifier) return undefined;
  if (variable.references.some((ref) => ref.isWrite() && !ref.init)) return undefined;
  return def.node.init ?? undefined;
}

/** True when `id` names a binding declared outside `scopeNode` (or a global). */
export function declaredOutside(
  context: Readonly<TSESLint.RuleContext<string, readonly unknown[]>>,
  id: TSESTree.Identifier,
  scopeNode: TSESTree.Node,
): boolean {
  const variable = variableOf(context, id);
  if (!variable || variable.defs.length === 0) return true;
  return variable.defs.every((def) => !contains(scopeNode, def.name));
}
