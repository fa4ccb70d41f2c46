/**
 * no-unhandled-event: an event published somewhere in the project that no handler in the project
 * handles and no `.remote()` declares goes nowhere (`publish` answers `{ handled: 0 }`), which is
 * usually a missing registration or a renamed contract. Needs type information: events are told
 * apart by their contract's `type` literal, across every file of the TypeScript program.
 */
import { AST_NODE_TYPES as T, type TSESTree } from "@typescript-eslint/utils";
import type * as ts from "typescript";
import { createRule } from "../rule.js";
import { propertyName, unwrapExpression } from "../syntax.js";
import { literalProperty, typeServices } from "../types.js";

/** Builder and test-harness methods that make a contract handled (`remote` takes several). */
const HANDLING = new Set(["handle", "remote", "stub"]);

type Services = NonNullable<ReturnType<typeof typeServices>>;

/** Event types handled or declared remote anywhere in a program, computed once per program. */
const handledByProgram = new WeakMap<ts.Program, Set<string>>();

/** Duck-typed so the plugin never loads its own `typescript` (the parser's may differ). */
interface CallLike extends ts.Node {
  readonly expression: ts.Node & { readonly name?: { readonly text?: string } };
  readonly arguments: ts.NodeArray<ts.Expression>;
}

function isCallLike(node: ts.Node): node is CallLike {
  const call = node as Partial<CallLike>;
  return Array.isArray(call.arguments) && call.expression !== undefined;
}

function eventType(services: Services, type: ts.Type): string | undefined {
  if (literalProperty(services, type, "kind") !== "event") return undefined;
  return literalProperty(services, type, "type");
}

function handledEvents(services: Services): Set<string> {
  const program = services.program;
  const cached = handledByProgram.get(program);
  if (cached) return cached;
  const checker = program.getTypeChecker();
  const handled = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (isCallLike(node)) {
      const method = node.expression.name?.text;
      if (method && HANDLING.has(method)) {
        const contracts = method === "remote" ? [...node.arguments] : node.arguments.slice(0, 1);
        for (const contract of contracts) {
          const type = eventType(services, checker.getTypeAtLocation(contract));
          if (type) handled.add(type);
        }
      }
    }
    node.forEachChild(visit);
  };
  for (const file of program.getSourceFiles())
    if (!file.isDeclarationFile && !file.fileName.includes("/node_modules/")) visit(file);
  handledByProgram.set(program, handled);
  return handled;
}

export default createRule<[], "unhandled">({
  name: "no-unhandled-event",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow publishing an event that nothing in the project handles or declares remote",
      recommended: false,
      typeAware: true,
    },
    schema: [],
    messages: {
      unhandled:
        'Event "{{type}}" is published but no `.handle()` in this project handles it and no `.remote()` declares it: it reaches nobody.',
    },
  },
  defaultOptions: [],
  create(context) {
    const services = typeServices(context);
    if (!services) return {}; // names cannot tell which event a token is: types only
    return {
      CallExpression(node: TSESTree.CallExpression) {
        const callee = unwrapExpression(node.callee);
        const isPublish =
          (callee.type === T.Identifier && callee.name === "publish") || propertyName(callee) === "publish";
        const event = node.arguments[0];
        if (!isPublish || !event) return;
        const type = eventType(services, services.getTypeAtLocation(event));
        if (type === undefined || handledEvents(services).has(type)) return;
        context.report({ node: event, messageId: "unhandled", data: { type } });
      },
    };
  },
});
