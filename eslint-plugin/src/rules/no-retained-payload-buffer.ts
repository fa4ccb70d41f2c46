/**
 * no-retained-payload-buffer: a Buffer/Uint8Array in an inbound payload shares memory with more
 * than itself (a pooled chunk of the msgpack decoder, or the inbound batch for a codec that hands
 * out views); keeping it past the handler (a field, an outer variable, a collection) keeps all of
 * that alive. `Buffer.from(view)` keeps a copy of just those bytes.
 */
import { AST_NODE_TYPES as T, type TSESTree } from "@typescript-eslint/utils";
import { HandlerIndex } from "../handlers.js";
import { createRule } from "../rule.js";
import {
  contains,
  declaredOutside,
  type FunctionNode,
  methodName,
  propertyName,
  rootOf,
  unwrapExpression,
  variableOf,
} from "../syntax.js";
import { isByteView } from "../types.js";

const COLLECTION_WRITES = new Set(["push", "unshift", "set", "add", "splice"]);
const DEFAULT_FIELD_PATTERN = "(?:buf|buffer|bytes|blob|chunk|binary|raw)$";

type Options = [{ fieldPattern?: string }];
type MessageIds = "retained";

interface Candidate {
  readonly target: TSESTree.Node;
  readonly values: readonly TSESTree.Node[];
}

export default createRule<Options, MessageIds>({
  name: "no-retained-payload-buffer",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow keeping an inbound payload's Buffer view beyond its handler",
      recommended: true,
      typeAware: true,
    },
    fixable: "code",
    schema: [
      {
        type: "object",
        properties: {
          fieldPattern: {
            type: "string",
            description: "Regular expression (case-insensitive) for byte fields when types are unknown",
          },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      retained:
        "`{{value}}` shares memory with the inbound message (a pooled chunk or the whole batch); storing it beyond the handler keeps all of it alive. Copy it with `Buffer.from(…)`.",
    },
  },
  defaultOptions: [{}],
  create(context, [options]) {
    const handlers = new HandlerIndex(context);
    const candidates: Candidate[] = [];
    const fieldPattern = new RegExp(options.fieldPattern ?? DEFAULT_FIELD_PATTERN, "i");
    const source = context.sourceCode;

    /** Where a value lands beyond `handler`: `this.x`, an outer binding or its member. */
    function escapes(target: TSESTree.Node, handler: FunctionNode): boolean {
      const root = rootOf(target);
      if (!root) return false;
      if (root.type === T.ThisExpression) return true;
      return declaredOutside(context, root, handler);
    }

    /** The payload parameter's name and its destructured fields. */
    function isPayloadBinding(id: TSESTree.Identifier, handler: FunctionNode): "whole" | "field" | undefined {
      const param = handler.params[0];
      const def = variableOf(context, id)?.defs[0];
      if (!param || !def || def.type !== "Parameter" || !contains(param, def.name)) return undefined;
      return param.type === T.Identifier ? "whole" : "field";
    }

    /** A part of the payload (`p.image`, a destructured `image`, `p.image.subarray(…)`, an alias). */
    function payloadPart(node: TSESTree.Node, handler: FunctionNode, depth = 0): string | undefined {
      const at = unwrapExpression(node);
      if (depth > 4) return undefined;
      if (at.type === T.CallExpression && methodName(at) === "subarray")
        return payloadPart((at.callee as TSESTree.MemberExpression).object, handler, depth + 1);
      if (at.type === T.MemberExpression) {
        const root = rootOf(at);
        if (root?.type !== T.Identifier || !isPayloadBinding(root, handler)) return undefined;
        return propertyName(at) ?? "?";
      }
      if (at.type !== T.Identifier) return undefined;
      const binding = isPayloadBinding(at, handler);
      if (binding === "field") return at.name;
      if (binding === "whole") return isByteView(context, at) ? at.name : undefined;
      const def = variableOf(context, at)?.defs[0];
      if (def?.node.type === T.VariableDeclarator && def.node.init && contains(handler, def.node))
        return def.node.id.type === T.Identifier ? payloadPart(def.node.init, handler, depth + 1) : undefined;
      return undefined;
    }

    function isRetainedView(node: TSESTree.Node, handler: FunctionNode): boolean {
      const field = payloadPart(node, handler);
      if (field === undefined) return false;
      const byTypes = isByteView(context, node);
      return byTypes ?? fieldPattern.test(field);
    }

    /** The values an expression stores: itself, or the members of an object/array literal. */
    function* storedValues(node: TSESTree.Node): Generator<TSESTree.Node> {
      const at = unwrapExpression(node);
      if (at.type === T.ObjectExpression) {
        for (const property of at.properties)
          if (property.type === T.Property) yield* storedValues(property.value);
      } else if (at.type === T.ArrayExpression) {
        for (const element of at.elements)
          if (element && element.type !== T.SpreadElement) yield* storedValues(element);
      } else yield node;
    }

    return {
      CallExpression(node) {
        handlers.visit(node);
        const method = methodName(node);
        if (method === undefined || !COLLECTION_WRITES.has(method)) return;
        const values = node.arguments.flatMap((arg) =>
          arg.type === T.SpreadElement ? [] : [...storedValues(arg)],
        );
        candidates.push({ target: (node.callee as TSESTree.MemberExpression).object, values });
      },
      AssignmentExpression(node) {
        if (node.left.type !== T.Identifier && node.left.type !== T.MemberExpression) return;
        candidates.push({ target: node.left, values: [...storedValues(node.right)] });
      },
      "Program:exit"() {
        for (const { target, values } of candidates) {
          const handler = handlers.handlerAround(target);
          if (!handler || !escapes(target, handler)) continue;
          for (const value of values) {
            if (!isRetainedView(value, handler)) continue;
            const text = source.getText(value);
            context.report({
              node: value,
              messageId: "retained",
              data: { value: text },
              fix: (fixer) => {
                const copy = `Buffer.from(${text})`;
                const property = value.parent;
                // `{ raw }` becomes `{ raw: Buffer.from(raw) }`
                if (property?.type === T.Property && property.shorthand)
                  return fixer.replaceText(property, `${text}: ${copy}`);
                return fixer.replaceText(value, copy);
              },
            });
          }
        }
      },
    };
  },
});
