// The docs' shell blocks name things that must exist: `npm run <script>` a script of
// package.json, `npx catga <command>` a command of the CLI (with its options), and
// `node`/`bash <path>` a file of the repository. Commands run from the repository root.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { root } from "./root.mjs";

const ts = createRequire(import.meta.url)("typescript");
const CLI_SOURCE = "ts/operations/cli/main.ts";
/** node options whose value is the next word. */
const NODE_VALUE_OPTIONS = new Set([
  "-r",
  "--require",
  "--import",
  "--loader",
  "--experimental-loader",
  "-C",
  "--conditions",
  "--env-file",
  "--input-type",
]);
/** node options after which no script follows. */
const NODE_NO_SCRIPT = new Set(["-e", "--eval", "-p", "--print", "-v", "--version", "-h", "--help", "-"]);

/**
 * The commands of a shell block, each `{ words, line }`: lines joined at a trailing `\`, `#`
 * comments dropped, quotes removed, split at `|`, `&&`, `||`, `;` and `&`.
 */
export function shellCommands(body, firstLine) {
  const commands = [];
  let words = [];
  let word = null;
  let line = firstLine;
  let start = firstLine;
  const endWord = () => {
    if (word !== null) words.push(word);
    word = null;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push({ words, line: start });
    words = [];
  };
  const text = body.join("\n");
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (words.length === 0 && word === null) start = line;
    if (c === "\\" && text[i + 1] === "\n") {
      i++;
      line++;
    } else if (c === "\n") {
      endCommand();
      line++;
    } else if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      const end = close < 0 ? text.length : close;
      word = (word ?? "") + text.slice(i + 1, end);
      line += (text.slice(i, end).match(/\n/g) ?? []).length;
      i = end;
    } else if (c === "#" && word === null) {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
    } else if ("|&;".includes(c)) {
      endCommand();
      if (text[i + 1] === c) i++;
    } else if (c === " " || c === "\t") {
      endWord();
    } else {
      word = (word ?? "") + c;
    }
  }
  endCommand();
  return commands;
}

/**
 * What a shell block may name: the scripts of package.json and the CLI's commands with their
 * options, both read from the sources so a rename shows up here.
 */
export function shellContext() {
  const scripts = new Set(Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts));
  return { scripts, cli: cliTable() };
}

/**
 * The CLI's command table from ts/operations/cli/main.ts (the script runs without a build):
 * `COMMAND_OPTIONS` (command → its options), `CONNECTION_OPTIONS` (every command takes them)
 * and `OPTIONS` (which take a value, and short names).
 */
export function cliTable() {
  const source = ts.createSourceFile(
    CLI_SOURCE,
    readFileSync(join(root, CLI_SOURCE), "utf8"),
    ts.ScriptTarget.Latest,
  );
  const found = new Map();
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      let value = declaration.initializer;
      while (value && (ts.isAsExpression(value) || ts.isSatisfiesExpression(value))) value = value.expression;
      if (ts.isIdentifier(declaration.name) && value) found.set(declaration.name.text, value);
    }
  }
  const strings = (node) =>
    node && ts.isArrayLiteralExpression(node)
      ? node.elements.filter(ts.isStringLiteralLike).map((element) => element.text)
      : null;
  const properties = (node) =>
    node && ts.isObjectLiteralExpression(node)
      ? node.properties
          .filter(ts.isPropertyAssignment)
          .map((property) => [property.name.text, property.initializer])
      : null;
  const commands = properties(found.get("COMMAND_OPTIONS"));
  const connection = strings(found.get("CONNECTION_OPTIONS"));
  const options = properties(found.get("OPTIONS"));
  if (!commands || !connection || !options) {
    // The check must not pass silently when the CLI is reorganised: fix this reader instead.
    throw new Error(
      `check-docs: ${CLI_SOURCE} no longer declares COMMAND_OPTIONS, CONNECTION_OPTIONS and OPTIONS as literals`,
    );
  }
  const field = (node, name) =>
    properties(node)
      ?.find(([key]) => key === name)?.[1]
      ?.getText(source)
      .replace(/["']/g, "");
  return {
    commands: new Map(
      commands.map(([name, list]) => [name, new Set([...(strings(list) ?? []), ...connection])]),
    ),
    takesValue: new Set(options.filter(([, spec]) => field(spec, "type") === "string").map(([name]) => name)),
    short: new Map(
      options.filter(([, spec]) => field(spec, "short")).map(([name, spec]) => [field(spec, "short"), name]),
    ),
  };
}

/** Pushes to `problems` each thing a shell block names that does not exist. */
export function shellProblems(rel, block, context, problems) {
  for (const { words: all, line } of shellCommands(block.body, block.line)) {
    const words = all.slice(all.findIndex((word) => !/^\w+=/.test(word))); // past `VAR=value`
    const where = `${rel}:${line}`;
    const [program, ...args] = words;
    if (program === "npm") npmProblem(where, args, context.scripts, problems);
    else if (program === "npx") {
      const tool = args.findIndex((word) => !word.startsWith("-"));
      if (args[tool] === "catga") catgaProblem(where, args.slice(tool + 1), context.cli, problems);
    } else if (program === "catga") catgaProblem(where, args, context.cli, problems);
    else if (program === "node") scriptProblem(where, nodeScript(args), problems);
    else if (program === "bash" || program === "sh") {
      if (!args.includes("-c"))
        scriptProblem(
          where,
          args.find((word) => !word.startsWith("-")),
          problems,
        );
    }
  }
}

function npmProblem(where, args, scripts, problems) {
  const positionals = args.filter((word) => !word.startsWith("-"));
  const [command, name] = positionals;
  const script =
    command === "test" || command === "t"
      ? "test"
      : command === "run" || command === "run-script"
        ? name
        : undefined;
  if (script !== undefined && !scripts.has(script))
    problems.push(`${where}: npm script "${script}" is not in package.json`);
}

function catgaProblem(where, args, cli, problems) {
  const positionals = [];
  const options = [];
  for (let i = 0; i < args.length; i++) {
    // A usage line writes optional parts in brackets: `[--limit n]`.
    const word = args[i].replace(/^\[+|\]+$/g, "");
    if (word === "--") break;
    if (!word.startsWith("-")) {
      positionals.push(word);
      continue;
    }
    const [flag, inline] = word.split("=", 2);
    const name = flag.startsWith("--") ? flag.slice(2) : (cli.short.get(flag.slice(1)) ?? flag);
    options.push(name);
    if (cli.takesValue.has(name) && inline === undefined) i++;
  }
  if (positionals.length === 0) return; // `npx catga --help`
  const [first, second] = positionals;
  const grouped = [...cli.commands.keys()].some((command) => command.startsWith(`${first} `));
  const command = grouped ? `${first} ${second ?? ""}`.trim() : first;
  const allowed = cli.commands.get(command);
  if (!allowed) {
    problems.push(
      `${where}: "catga ${command}" is not a CLI command (${[...cli.commands.keys()].join(", ")})`,
    );
    return;
  }
  for (const option of options) {
    if (!allowed.has(option)) problems.push(`${where}: "catga ${command}" has no option --${option}`);
  }
}

/** The script of a `node` command line, or undefined when there is none (`node -e …`). */
function nodeScript(args) {
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (NODE_NO_SCRIPT.has(word)) return undefined;
    if (word === "--") return args[i + 1];
    if (NODE_VALUE_OPTIONS.has(word)) i++;
    else if (!word.startsWith("-")) return word;
  }
  return undefined;
}

function scriptProblem(where, path, problems) {
  if (path !== undefined && !existsSync(join(root, path)))
    problems.push(`${where}: ${path} is not a file of the repository`);
}
