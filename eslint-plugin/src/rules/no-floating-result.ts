/**
 * no-floating-result: `ctx.send(…)` / `publish` / `query` as a bare statement drops the Result,
 * and with it every failure (the call never rejects, so nothing else reports it).
 */
import { AST_NODE_TYPES as T, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import { contractInfo } from "../contracts.js";
import { createRule } from "../rule.js";
import {
  enclosingFunction,
  type FunctionNode,
  methodName,
  receiverName,
  unwrapExpression,
} from "../syntax.js";
import { returnsResultPromise } from "../types.js";

const METHODS = new Set(["send", "publish", "query"]);
const DEFAULT_RECEIVERS = ["ctx", "catga"];

type Options = [{ receivers?: string[] }];
type MessageIds = "floating" | "inForEach" | "awaitIt" | "makeAsync" | "discard";

export default createRule<Options, MessageIds>({
  name: "no-floating-result",
  meta: {
    type: "problem",
    docs: {
      description: "Require the Result of `send`/`publish`/`query` to be awaited, returned or used",
      recommended: true,
      typeAware: true,
    },
    fixable: "code",
    hasSuggestions: true,
    schema: [
      {
        type: "object",
        properties: {
          receivers: {
            type: "array",
            items: { type: "string" },
            description: "Receiver names treated as a mediator or handler context when types are unknown",
          },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      floating:
        "The Result of `{{name}}` is dropped: a failure here goes unnoticed. Await it and check `ok` (or `unwrap()`).",
      inForEach:
        "`forEach` drops the Result of `{{name}}` (and does not wait for it). Use `for … of` with `await`, or `await Promise.all(items.map(…))` and check each Result.",
      awaitIt: "Await the Result (top-level await).",
      makeAsync: "Make the enclosing function async and await the Result.",
      discard: "Discard it explicitly with `void` (failures stay unreported).",
    },
  },
  defaultOptions: [{}],
  create(context, [options]) {
    const receivers = new Set(options.receivers ?? DEFAULT_RECEIVERS);
    const source = context.sourceCode;

    /** A call of send/publish/query that, by types or by names, resolves to a Result. */
    function isMediatorCall(call: TSESTree.CallExpression): string | undefined {
      const callee = unwrapExpression(call.callee);
      let name: string | undefined;
      let receiver: string | undefined;
      if (callee.type === T.Identifier) name = callee.name;
      else if (
        callee.type === T.MemberExpression &&
        !callee.computed &&
        callee.property.type === T.Identifier
      ) {
        name = callee.property.name;
        receiver = receiverName(callee.object);
      }
      if (name === undefined || !METHODS.has(name)) return undefined;
      const label = receiver ? `${receiver}.${name}` : name;
      const byTypes = returnsResultPromise(context, call);
      if (byTypes !== undefined) return byTypes ? label : undefined;
      if (receiver !== undefined && receivers.has(receiver)) return label;
      // Otherwise only when the first argument is a contract: a token defined in this file, or a
      // PascalCase name as contracts are written (`publish(OrderPlaced, …)`).
      const first = call.arguments[0];
      if (!first) return undefined;
      if (contractInfo(context, first)) return label;
      return first.type === T.Identifier && /^[A-Z][A-Za-z0-9]*$/.test(first.name) ? label : undefined;
    }

    function asyncInsertion(fn: FunctionNode): ((fixer: TSESLint.RuleFixer) => TSESLint.RuleFix) | undefined {
      if (fn.async || fn.generator) return undefined;
      const parent = fn.parent;
      if (parent && (parent.type === T.MethodDefinition || (parent.type === T.Property && parent.method))) {
        // get/set/constructor cannot be async (object methods are `init`, class methods `method`)
        if (parent.kind !== "method" && parent.kind !== "init") return undefined;
        const key = parent.computed ? source.getTokenBefore(parent.key)! : parent.key; // `[` exists when computed
        return (fixer) => fixer.insertTextBefore(key, "async ");
      }
      if (parent?.type === T.Property && parent.kind !== "init") return undefined;
      return (fixer) => fixer.insertTextBefore(fn, "async ");
    }

    return {
      // `items.forEach((i) => ctx.send(X, i))`: forEach drops what the callback returns.
      "CallExpression > ArrowFunctionExpression > CallExpression"(call: TSESTree.CallExpression) {
        const arrow = call.parent;
        const outer = arrow?.parent;
        if (arrow?.type !== T.ArrowFunctionExpression || arrow.body !== call) return;
        if (
          outer?.type !== T.CallExpression ||
          outer.arguments[0] !== arrow ||
          methodName(outer) !== "forEach"
        )
          return;
        const name = isMediatorCall(call);
        if (name) context.report({ node: call, messageId: "inForEach", data: { name } });
      },
      ExpressionStatement(statement) {
        const expression = statement.expression;
        const call =
          expression.type === T.ChainExpression && expression.expression.type === T.CallExpression
            ? expression.expression
            : expression.type === T.CallExpression
              ? expression
              : undefined;
        if (!call) return;
        const name = isMediatorCall(call);
        if (!name) return;
        const fn = enclosingFunction(statement);
        const addAwait = (fixer: TSESLint.RuleFixer) => fixer.insertTextBefore(expression, "await ");
        const discard: TSESLint.SuggestionReportDescriptor<MessageIds> = {
          messageId: "discard",
          fix: (fixer) => fixer.insertTextBefore(expression, "void "),
        };
        if (fn?.async) {
          context.report({ node: call, messageId: "floating", data: { name }, fix: addAwait });
          return;
        }
        const suggest: TSESLint.SuggestionReportDescriptor<MessageIds>[] = [];
        if (!fn && context.languageOptions.sourceType === "module")
          suggest.push({ messageId: "awaitIt", fix: addAwait });
        const makeAsync = fn && asyncInsertion(fn);
        if (makeAsync)
          suggest.push({ messageId: "makeAsync", fix: (fixer) => [makeAsync(fixer), addAwait(fixer)] });
        suggest.push(discard);
        context.report({ node: call, messageId: "floating", data: { name }, suggest });
      },
    };
  },
});
