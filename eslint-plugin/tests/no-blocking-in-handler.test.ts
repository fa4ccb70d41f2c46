import rule from "../src/rules/no-blocking-in-handler.js";
import { asEslintRule, untyped } from "./helpers.js";

const FS = 'import fs from "node:fs";\n';

untyped.run("no-blocking-in-handler", asEslintRule(rule), {
  valid: [
    // outside a handler: start-up code may read files synchronously
    `${FS}const config = fs.readFileSync("config.json", "utf8");`,
    `${FS}catga.handle(PlaceOrder, async (o) => { await fs.promises.readFile(o.path); });`,
    // a loop that awaits is not a busy-wait
    "catga.handle(Poll, async () => { while (Date.now() < end) { await sleep(10); } });",
    // a local `readFileSync` that is not node:fs
    "const readFileSync = (p) => p; catga.handle(X, () => readFileSync('a'));",
    "catga.handle(X, () => cache.readSync());",
  ],
  invalid: [
    {
      code: `${FS}catga.handle(PlaceOrder, async (o) => { const text = fs.readFileSync(o.path, "utf8"); return text; });`,
      output: `${FS}catga.handle(PlaceOrder, async (o) => { const text = await fs.promises.readFile(o.path, "utf8"); return text; });`,
      errors: [{ messageId: "syncCall", data: { name: "fs.readFileSync" } }],
    },
    {
      // `await` binds looser than `.toString()`: the fix adds parentheses
      code: `${FS}b.handle(X, async (o) => fs.readFileSync(o.path).toString());`,
      output: `${FS}b.handle(X, async (o) => (await fs.promises.readFile(o.path)).toString());`,
      errors: [{ messageId: "syncCall" }],
    },
    {
      // a named handler declared after its registration, and a nested helper inside it
      code: `import * as fs from "fs";\nb.handle(X, save);\nasync function save(o) { const write = () => fs.writeFileSync(o.path, o.body); write(); }`,
      output: null, // the nearest function is not async: report only
      errors: [{ messageId: "syncCall", data: { name: "fs.writeFileSync" } }],
    },
    {
      // no promise twin with the same result: report only
      code: `${FS}b.handle(X, async (o) => fs.existsSync(o.path));`,
      output: null,
      errors: [{ messageId: "syncCall", data: { name: "fs.existsSync" } }],
    },
    {
      // a named import: the promise twin is imported from node:fs/promises
      code: 'import { readFileSync } from "node:fs";\nb.handle(X, async (o) => readFileSync(o.path, "utf8"));',
      output:
        'import { readFileSync } from "node:fs";\nimport { readFile } from "node:fs/promises";\nb.handle(X, async (o) => await readFile(o.path, "utf8"));',
      errors: [{ messageId: "syncCall", data: { name: "readFileSync" } }],
    },
    {
      // an alias, and the twin already imported: reused, not imported twice
      code: 'import { writeFileSync as wfs } from "fs";\nimport { writeFile } from "fs/promises";\nb.handle(X, async (o) => { wfs(o.path, o.body); });',
      output:
        'import { writeFileSync as wfs } from "fs";\nimport { writeFile } from "fs/promises";\nb.handle(X, async (o) => { await writeFile(o.path, o.body); });',
      errors: [{ messageId: "syncCall", data: { name: "writeFileSync` (as `wfs" } }],
    },
    {
      // two calls: one pass fixes the first and adds the import; the next pass (eslint --fix
      // repeats) finds the import and fixes the second
      code: 'import { statSync } from "node:fs";\nb.handle(X, async (o) => [statSync(o.a), statSync(o.b)]);',
      output:
        'import { statSync } from "node:fs";\nimport { stat } from "node:fs/promises";\nb.handle(X, async (o) => [await stat(o.a), statSync(o.b)]);',
      errors: [{ messageId: "syncCall" }, { messageId: "syncCall" }],
    },
    {
      // `readFile` is taken (the callback API): report only
      code: 'import { readFile, readFileSync } from "node:fs";\nb.handle(X, async (o) => readFileSync(o.path));',
      output: null,
      errors: [{ messageId: "syncCall" }],
    },
    {
      code: 'import { execSync } from "node:child_process";\nb.handle(X, () => execSync("ls"));',
      output: null,
      errors: [{ messageId: "syncCall", data: { name: "execSync" } }],
    },
    {
      code: 'const cp = require("child_process");\nb.handle(X, function () { cp.spawnSync("ls"); });',
      output: null,
      errors: [{ messageId: "syncCall", data: { name: "cp.spawnSync" } }],
    },
    {
      code: "b.handle(X, () => { Atomics.wait(view, 0, 0, 100); });",
      output: null,
      errors: [{ messageId: "atomicsWait" }],
    },
    {
      code: "b.handle(X, () => { const end = Date.now() + 50; while (Date.now() < end) {} });",
      output: null,
      errors: [{ messageId: "busyWait" }],
    },
    {
      code: "b.handle(X, () => { const t = performance.now(); do { n++; } while (performance.now() - t < 5); });",
      output: null,
      errors: [{ messageId: "busyWait" }],
    },
  ],
});
