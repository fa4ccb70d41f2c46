/**
 * no-blocking-in-handler: a synchronous file or process call, `Atomics.wait` or a clock busy-wait
 * inside a handler stops the event loop, and with it every other message of the process (the NATS
 * batches, timers and the other handlers all wait).
 */
import { ASTUtils, AST_NODE_TYPES as T, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import { HandlerIndex } from "../handlers.js";
import { createRule } from "../rule.js";
import { enclosingFunction, propertyName, unwrapExpression, variableOf } from "../syntax.js";

const FS_MODULES = new Set(["fs", "node:fs"]);
const PROCESS_MODULES = new Set(["child_process", "node:child_process"]);
const PROMISE_MODULES = new Set(["fs/promises", "node:fs/promises"]);

/**
 * `fs.xSync` calls whose `fs.promises.x` takes the same arguments and resolves to the same value,
 * so `await fs.promises.x(…)` is a drop-in replacement inside an async function. Left out on
 * purpose: `existsSync` (no promise form), `openSync`/`readSync`/`writeSync`/… (fd vs FileHandle).
 */
const FS_PROMISE_TWINS = new Set([
  "access",
  "appendFile",
  "chmod",
  "chown",
  "copyFile",
  "cp",
  "lstat",
  "mkdir",
  "mkdtemp",
  "readdir",
  "readFile",
  "readlink",
  "realpath",
  "rename",
  "rm",
  "rmdir",
  "stat",
  "symlink",
  "truncate",
  "unlink",
  "utimes",
  "writeFile",
]);

type MessageIds = "syncCall" | "atomicsWait" | "busyWait";

interface Candidate {
  readonly node: TSESTree.Node;
  readonly messageId: MessageIds;
  readonly data?: Record<string, string>;
  readonly fix?: TSESLint.ReportFixFunction;
}

export default createRule<[], MessageIds>({
  name: "no-blocking-in-handler",
  meta: {
    type: "problem",
    docs: {
      description: "Disallow synchronous I/O, `Atomics.wait` and busy-waits in message handlers",
      recommended: true,
    },
    fixable: "code",
    schema: [],
    messages: {
      syncCall:
        "`{{name}}` blocks the event loop inside a handler, stalling every other message. Use the async form with `await`.",
      atomicsWait:
        "`Atomics.wait` blocks the event loop inside a handler. Use `Atomics.waitAsync` or a promise.",
      busyWait:
        "This loop spins on the clock inside a handler, blocking every other message. Await a timer (`node:timers/promises`) instead.",
    },
  },
  defaultOptions: [],
  create(context) {
    const handlers = new HandlerIndex(context);
    const candidates: Candidate[] = [];
    const source = context.sourceCode;

    interface Origin {
      readonly module: string;
      /** `import { readFileSync }` / `const { execSync } = require(…)`, not a namespace. */
      readonly named: boolean;
      /** For a named ES import: the exported name and its declaration (where an import can go). */
      readonly imported?: string;
      readonly declaration?: TSESTree.ImportDeclaration;
    }

    /** The module a binding was imported or required from (`import fs from "node:fs"`). */
    function moduleOf(id: TSESTree.Identifier): Origin | undefined {
      const def = variableOf(context, id)?.defs[0];
      if (!def) return undefined;
      if (def.type === "ImportBinding") {
        const declaration = def.parent as TSESTree.ImportDeclaration;
        const module = String(declaration.source.value);
        if (def.node.type !== T.ImportSpecifier) return { module, named: false };
        const { imported } = def.node;
        const name = imported.type === T.Identifier ? imported.name : String(imported.value);
        return { module, named: true, imported: name, declaration };
      }
      if (def.node.type === T.VariableDeclarator && def.node.init) {
        const init = unwrapExpression(def.node.init);
        if (
          init.type === T.CallExpression &&
          init.callee.type === T.Identifier &&
          init.callee.name === "require" &&
          init.arguments[0]?.type === T.Literal
        )
          return { module: String(init.arguments[0].value), named: def.node.id.type === T.ObjectPattern };
      }
      return undefined;
    }

    /**
     * `await <callee>(args)`, parenthesised where `await` would bind wrongly, when the sync call
     * has a promise twin and the nearest function is async; else undefined (report only).
     */
    function awaitedTwin(call: TSESTree.CallExpression, method: string, callee: (twin: string) => string) {
      const fn = enclosingFunction(call);
      const twin = method.slice(0, -"Sync".length);
      if (!fn?.async || !FS_PROMISE_TWINS.has(twin)) return undefined;
      const parent = call.parent;
      // `await` binds looser than member access and calls: `(await x).toString()`.
      const needsParens =
        (parent?.type === T.MemberExpression && parent.object === call) ||
        (parent?.type === T.CallExpression && parent.callee === call) ||
        parent?.type === T.NewExpression ||
        parent?.type === T.TaggedTemplateExpression ||
        (parent?.type === T.BinaryExpression && parent.operator === "**" && parent.left === call);
      const args = call.arguments.map((arg) => source.getText(arg)).join(", ");
      const replacement = `await ${callee(twin)}(${args})`;
      return { twin, text: needsParens ? `(${replacement})` : replacement };
    }

    function namespaceFix(call: TSESTree.CallExpression, namespace: string, method: string) {
      const awaited = awaitedTwin(call, method, (twin) => `${namespace}.promises.${twin}`);
      return awaited && ((fixer: TSESLint.RuleFixer) => fixer.replaceText(call, awaited.text));
    }

    /**
     * `readFileSync(p)` imported by name becomes `await readFile(p)` with `readFile` imported from
     * "node:fs/promises" — only when that name is free in the file or already that import.
     */
    function namedImportFix(call: TSESTree.CallExpression, origin: Origin) {
      if (!origin.imported || !origin.declaration) return undefined;
      const awaited = awaitedTwin(call, origin.imported, (twin) => twin);
      if (!awaited) return undefined;
      const existing = ASTUtils.findVariable(source.getScope(call), awaited.twin);
      if (existing) {
        const def = existing.defs[0];
        const fromPromises =
          def?.type === "ImportBinding" &&
          def.node.type === T.ImportSpecifier &&
          PROMISE_MODULES.has(String((def.parent as TSESTree.ImportDeclaration).source.value)) &&
          (def.node.imported.type === T.Identifier ? def.node.imported.name : def.node.imported.value) ===
            awaited.twin;
        if (!fromPromises) return undefined;
        return (fixer: TSESLint.RuleFixer) => fixer.replaceText(call, awaited.text);
      }
      // An undeclared global of that name used anywhere would be captured by the new import.
      if (source.scopeManager?.globalScope?.through.some((ref) => ref.identifier.name === awaited.twin))
        return undefined;
      const declaration = origin.declaration;
      return (fixer: TSESLint.RuleFixer) => [
        fixer.insertTextAfter(declaration, `\nimport { ${awaited.twin} } from "node:fs/promises";`),
        fixer.replaceText(call, awaited.text),
      ];
    }

    function checkCall(call: TSESTree.CallExpression): void {
      const callee = unwrapExpression(call.callee);
      if (callee.type === T.MemberExpression) {
        const method = propertyName(callee);
        const object = unwrapExpression(callee.object);
        if (object.type !== T.Identifier || method === undefined) return;
        if (object.name === "Atomics" && method === "wait") {
          candidates.push({ node: call, messageId: "atomicsWait" });
          return;
        }
        if (!method.endsWith("Sync")) return;
        const origin = moduleOf(object);
        const module = origin && !origin.named ? origin.module : undefined;
        const isFs = module ? FS_MODULES.has(module) : object.name === "fs";
        const isProcess = module ? PROCESS_MODULES.has(module) : object.name === "child_process";
        if (!isFs && !isProcess) return;
        const fix = isFs ? namespaceFix(call, object.name, method) : undefined;
        candidates.push({
          node: call,
          messageId: "syncCall",
          data: { name: `${object.name}.${method}` },
          ...(fix ? { fix } : {}),
        });
        return;
      }
      if (callee.type !== T.Identifier) return;
      const origin = moduleOf(callee);
      if (!origin?.named) return;
      const isFs = FS_MODULES.has(origin.module);
      if (!isFs && !PROCESS_MODULES.has(origin.module)) return;
      // `import { writeFileSync as save }`: the exported name tells, not the local one.
      const exported = origin.imported ?? callee.name;
      if (!exported.endsWith("Sync")) return;
      const name = exported === callee.name ? exported : `${exported}\` (as \`${callee.name}`;
      const fix = isFs ? namedImportFix(call, origin) : undefined;
      candidates.push({
        node: call,
        messageId: "syncCall",
        data: { name },
        ...(fix ? { fix } : {}),
      });
    }

    /** `Date.now()`, `performance.now()`, `new Date()`, `process.hrtime…()`: a clock read. */
    function readsClock(node: TSESTree.Node | null | undefined): boolean {
      if (!node) return false;
      const at = unwrapExpression(node);
      switch (at.type) {
        case T.CallExpression: {
          const callee = unwrapExpression(at.callee);
          if (callee.type === T.MemberExpression) {
            const object = unwrapExpression(callee.object);
            const method = propertyName(callee);
            if (object.type === T.Identifier && method === "now")
              if (object.name === "Date" || object.name === "performance") return true;
            if (method === "hrtime" || method === "bigint" || method === "getTime" || method === "valueOf")
              return readsClock(callee.object) || (object.type === T.Identifier && object.name === "process");
            return readsClock(callee.object);
          }
          return false;
        }
        case T.NewExpression:
          return at.callee.type === T.Identifier && at.callee.name === "Date";
        case T.MemberExpression:
          return readsClock(at.object);
        case T.BinaryExpression:
        case T.LogicalExpression:
          return readsClock(at.left) || readsClock(at.right);
        case T.UnaryExpression:
          return readsClock(at.argument);
        default:
          return false;
      }
    }

    /** A loop body with no await/yield: it can only end by the clock moving on. */
    function spins(body: TSESTree.Node): boolean {
      let found = false;
      const visit = (node: TSESTree.Node): void => {
        if (found) return;
        if (node.type === T.AwaitExpression || node.type === T.YieldExpression) {
          found = true;
          return;
        }
        if (
          node.type === T.FunctionExpression ||
          node.type === T.ArrowFunctionExpression ||
          node.type === T.FunctionDeclaration
        )
          return;
        for (const key of Object.keys(node) as (keyof typeof node)[]) {
          if (key === "parent") continue;
          const value = node[key] as unknown;
          if (Array.isArray(value)) {
            for (const child of value) if (child && typeof child.type === "string") visit(child);
          } else if (value && typeof (value as TSESTree.Node).type === "string")
            visit(value as TSESTree.Node);
        }
      };
      visit(body);
      return !found;
    }

    function checkLoop(
      loop: TSESTree.WhileStatement | TSESTree.DoWhileStatement | TSESTree.ForStatement,
    ): void {
      if (readsClock(loop.test) && spins(loop.body)) candidates.push({ node: loop, messageId: "busyWait" });
    }

    return {
      CallExpression(node) {
        handlers.visit(node);
        checkCall(node);
      },
      WhileStatement: checkLoop,
      DoWhileStatement: checkLoop,
      ForStatement: checkLoop,
      "Program:exit"() {
        for (const candidate of candidates) {
          if (!handlers.handlerAround(candidate.node)) continue;
          context.report({
            node: candidate.node,
            messageId: candidate.messageId,
            ...(candidate.data ? { data: candidate.data } : {}),
            ...(candidate.fix ? { fix: candidate.fix } : {}),
          });
        }
      },
    };
  },
});
