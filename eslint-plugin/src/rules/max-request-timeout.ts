/**
 * max-request-timeout: a long request/reply timeout keeps the caller, its correlation entry and
 * the handler's resources waiting; past ~30 s the work belongs on a durable command or an event.
 */
import { ASTUtils, AST_NODE_TYPES as T, type TSESTree } from "@typescript-eslint/utils";
import { createRule } from "../rule.js";
import { methodName, propertyName } from "../syntax.js";

export const DEFAULT_MAX_MS = 30_000;

type Options = [{ maxMs?: number }];
type MessageIds = "tooLong" | "lower";

function keyName(property: TSESTree.Property): string | undefined {
  if (!property.computed && property.key.type === T.Identifier) return property.key.name;
  if (property.key.type === T.Literal) return String(property.key.value);
  return undefined;
}

export default createRule<Options, MessageIds>({
  name: "max-request-timeout",
  meta: {
    type: "suggestion",
    docs: {
      description:
        "Limit request/reply timeouts (`withTimeout`, `perType`, `requestTimeoutMs`, `AbortSignal.timeout`)",
      recommended: true,
    },
    hasSuggestions: true,
    schema: [
      {
        type: "object",
        properties: {
          maxMs: {
            type: "integer",
            minimum: 1,
            description: "Largest allowed timeout in ms (default 30000)",
          },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      tooLong:
        "`{{field}}` of {{ms}} ms is above {{maxMs}} ms: a request/reply caller should not wait that long. Use a durable command or an event for long work.",
      lower: "Lower it to {{maxMs}}.",
    },
  },
  defaultOptions: [{}],
  create(context, [options]) {
    const maxMs = options.maxMs ?? DEFAULT_MAX_MS;

    function check(value: TSESTree.Node, field: string): void {
      const evaluated = ASTUtils.getStaticValue(value, context.sourceCode.getScope(value));
      if (!evaluated || typeof evaluated.value !== "number" || evaluated.value <= maxMs) return;
      const literal = value.type === T.Literal;
      context.report({
        node: value,
        messageId: "tooLong",
        data: { field, ms: String(evaluated.value), maxMs: String(maxMs) },
        // Only a literal is rewritten: a named constant may be shared with other settings.
        suggest: literal
          ? [
              {
                messageId: "lower",
                data: { maxMs: String(maxMs) },
                fix: (fixer) => fixer.replaceText(value, String(maxMs)),
              },
            ]
          : [],
      });
    }

    /** `catga.send(C, p, { signal: AbortSignal.timeout(ms) })`: a per-call request deadline. */
    function checkSignal(node: TSESTree.CallExpression): void {
      const callee = node.callee;
      if (
        callee.type !== T.MemberExpression ||
        propertyName(callee) !== "timeout" ||
        callee.object.type !== T.Identifier ||
        callee.object.name !== "AbortSignal" ||
        !node.arguments[0]
      )
        return;
      const property = node.parent;
      const options = property?.parent;
      const call = options?.parent;
      if (property?.type !== T.Property || keyName(property) !== "signal" || property.value !== node) return;
      if (options?.type !== T.ObjectExpression || call?.type !== T.CallExpression) return;
      const method = methodName(call);
      if ((method === "send" || method === "query") && call.arguments[2] === options)
        check(node.arguments[0], `${method} signal: AbortSignal.timeout`);
    }

    return {
      CallExpression(node) {
        checkSignal(node);
        if (methodName(node) !== "withTimeout") return;
        const options = node.arguments[0];
        if (options?.type !== T.ObjectExpression) return;
        for (const property of options.properties) {
          if (property.type !== T.Property) continue;
          const key = keyName(property);
          if (key === "ms") check(property.value, "timeout.ms");
          if (key === "perType" && property.value.type === T.ObjectExpression)
            for (const entry of property.value.properties)
              if (entry.type === T.Property) check(entry.value, `timeout.perType.${keyName(entry) ?? "?"}`);
        }
      },
      Property(node) {
        if (keyName(node) === "requestTimeoutMs") check(node.value, "requestTimeoutMs");
      },
    };
  },
});
