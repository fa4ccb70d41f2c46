/**
 * no-error-message-match: a `CatgaError`'s (or a Result's `error`'s) message is prose for people
 * and changes between versions; its `code` is the stable contract (docs/architecture/errors.md).
 */
import { AST_NODE_TYPES as T, type TSESTree } from "@typescript-eslint/utils";
import { createRule } from "../rule.js";
import { initialValue, propertyName, unwrapExpression, variableOf } from "../syntax.js";
import { isCodedError } from "../types.js";

const STRING_MATCHERS = new Set([
  "includes",
  "startsWith",
  "endsWith",
  "indexOf",
  "lastIndexOf",
  "match",
  "matchAll",
  "search",
  "localeCompare",
]);
const REGEX_MATCHERS = new Set(["test", "exec"]);
const EQUALITY = new Set(["==", "===", "!=", "!=="]);

export default createRule<[], "byMessage">({
  name: "no-error-message-match",
  meta: {
    type: "problem",
    docs: {
      description: "Match Catga errors by `code`, not by message text",
      recommended: true,
      typeAware: true,
    },
    schema: [],
    messages: {
      byMessage:
        "Matching a Catga error by its message text breaks when the wording changes. Compare `.code` (`ErrorCodes.…`, `hasErrorCode`) instead.",
    },
  },
  defaultOptions: [],
  create(context) {
    /** How the `.message` read is used, when that use is a match. */
    function isMatch(read: TSESTree.Node): boolean {
      const parent = read.parent;
      if (!parent) return false;
      if (parent.type === T.BinaryExpression) return EQUALITY.has(parent.operator);
      if (parent.type === T.SwitchStatement) return parent.discriminant === read;
      if (parent.type === T.MemberExpression && parent.object === read) {
        const method = propertyName(parent);
        return (
          method !== undefined &&
          STRING_MATCHERS.has(method) &&
          parent.parent?.type === T.CallExpression &&
          parent.parent.callee === parent
        );
      }
      if (
        parent.type === T.CallExpression &&
        parent.arguments.includes(read as TSESTree.CallExpressionArgument)
      ) {
        const method = propertyName(unwrapExpression(parent.callee));
        return method !== undefined && REGEX_MATCHERS.has(method);
      }
      return false;
    }

    /** Without types: `x.error.message`, or a name bound to some `….error`. */
    function looksLikeResultError(object: TSESTree.Node): boolean {
      const at = unwrapExpression(object);
      if (propertyName(at) === "error") return true;
      if (at.type !== T.Identifier) return false;
      const init = initialValue(context, at);
      if (init) return propertyName(unwrapExpression(init)) === "error";
      const def = variableOf(context, at)?.defs[0];
      // `const { error } = result`
      return (
        def?.node.type === T.VariableDeclarator &&
        def.node.id.type === T.ObjectPattern &&
        def.node.id.properties.some(
          (p) =>
            p.type === T.Property &&
            p.key.type === T.Identifier &&
            p.key.name === "error" &&
            p.value.type === T.Identifier &&
            p.value.name === at.name,
        )
      );
    }

    return {
      MemberExpression(node) {
        if (propertyName(node) !== "message") return;
        const read = node.parent?.type === T.ChainExpression ? node.parent : node;
        if (!isMatch(read)) return;
        const coded = isCodedError(context, node.object);
        if (coded === false || (coded === undefined && !looksLikeResultError(node.object))) return;
        context.report({ node, messageId: "byMessage" });
      },
    };
  },
});
