/**
 * require-idempotency-for-durable: a durable command is delivered at least once, and a command
 * handled for other processes can be resent by a caller that timed out; without `withIdempotency`
 * in the same builder chain a redelivery runs the handler twice.
 */
import { AST_NODE_TYPES as T, type TSESTree } from "@typescript-eslint/utils";
import { contractInfo } from "../contracts.js";
import { isHandleCall } from "../handlers.js";
import { createRule } from "../rule.js";
import { methodName, unwrapExpression } from "../syntax.js";

type MessageIds = "durable" | "transport";

/** The calls of a builder chain, outermost first, and what it starts from. */
function chainOf(outer: TSESTree.CallExpression): { calls: TSESTree.CallExpression[]; root: TSESTree.Node } {
  const calls: TSESTree.CallExpression[] = [];
  let at: TSESTree.Node = outer;
  while (at.type === T.CallExpression && at.callee.type === T.MemberExpression) {
    calls.push(at);
    at = unwrapExpression(at.callee.object);
  }
  return { calls, root: at };
}

/** `createCatga({ transport, … })`: the options name a transport. */
function hasTransport(root: TSESTree.Node): boolean {
  if (
    root.type !== T.CallExpression ||
    root.callee.type !== T.Identifier ||
    root.callee.name !== "createCatga"
  )
    return false;
  const options = root.arguments[0];
  return (
    options?.type === T.ObjectExpression &&
    options.properties.some((p) => p.type === T.Property && keyOf(p) === "transport")
  );
}

/**
 * `exactlyOnce(pool, work)` (`@catga/native/persistence`) records each message's outcome in the
 * handler's own transaction: the handler is idempotent by itself.
 */
function isExactlyOnce(handler: TSESTree.Node | undefined): boolean {
  const call = handler === undefined ? undefined : unwrapExpression(handler);
  return (
    call?.type === T.CallExpression && call.callee.type === T.Identifier && call.callee.name === "exactlyOnce"
  );
}

function keyOf(property: TSESTree.Property): string | undefined {
  if (!property.computed && property.key.type === T.Identifier) return property.key.name;
  return property.key.type === T.Literal ? String(property.key.value) : undefined;
}

export default createRule<[], MessageIds>({
  name: "require-idempotency-for-durable",
  meta: {
    type: "problem",
    docs: {
      description: "Require `withIdempotency` where a command can be delivered more than once",
      recommended: true,
      typeAware: true,
    },
    schema: [],
    messages: {
      durable:
        "`{{type}}` is a durable command (delivered at least once) but this builder has no `withIdempotency(...)`: a redelivery runs the handler again.",
      transport:
        "`{{type}}` is handled for other processes over a transport but this builder has no `withIdempotency(...)`: a caller's retry runs the handler again.",
    },
  },
  defaultOptions: [],
  create(context) {
    return {
      CallExpression(node) {
        // Only the outermost call of a chain: `a.b().c()` is looked at once, as a whole.
        const parent = node.parent;
        if (parent?.type === T.MemberExpression && parent.object === node) return;
        const { calls, root } = chainOf(node);
        if (calls.some((call) => methodName(call) === "withIdempotency")) return;
        const remote = hasTransport(root);
        for (const call of calls) {
          if (!isHandleCall(call) || isExactlyOnce(call.arguments[1])) continue;
          const contract = call.arguments[0]!; // isHandleCall checked there are two
          const info = contractInfo(context, contract);
          if (info?.kind !== "command") continue;
          const type = context.sourceCode.getText(contract);
          if (info.durable) context.report({ node: contract, messageId: "durable", data: { type } });
          else if (remote) context.report({ node: contract, messageId: "transport", data: { type } });
        }
      },
    };
  },
});
