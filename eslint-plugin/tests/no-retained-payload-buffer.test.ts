import rule from "../src/rules/no-retained-payload-buffer.js";
import { asEslintRule, typed, typedFile, untyped } from "./helpers.js";

untyped.run("no-retained-payload-buffer (by names)", asEslintRule(rule), {
  valid: [
    // copied, or used and dropped within the handler
    "const seen = []; b.handle(Upload, (p) => { seen.push(Buffer.from(p.imageBytes)); });",
    "b.handle(Upload, (p) => { const local = []; local.push(p.imageBytes); return hash(local); });",
    "let last; b.handle(Upload, (p) => { last = p.name; });",
    // not a handler
    "const kept = []; function f(p) { kept.push(p.imageBytes); }",
  ],
  invalid: [
    {
      code: "const kept = []; b.handle(Upload, (p) => { kept.push(p.imageBytes); });",
      output: "const kept = []; b.handle(Upload, (p) => { kept.push(Buffer.from(p.imageBytes)); });",
      errors: [{ messageId: "retained", data: { value: "p.imageBytes" } }],
    },
    {
      code: "let last; b.handle(Upload, ({ chunk }) => { last = chunk.subarray(0, 4); });",
      output: "let last; b.handle(Upload, ({ chunk }) => { last = Buffer.from(chunk.subarray(0, 4)); });",
      errors: [{ messageId: "retained" }],
    },
    {
      code: "class S { setup(b) { b.handle(Upload, (p) => { const raw = p.raw; this.cache = { raw }; }); } }",
      output:
        "class S { setup(b) { b.handle(Upload, (p) => { const raw = p.raw; this.cache = { raw: Buffer.from(raw) }; }); } }",
      errors: [{ messageId: "retained", data: { value: "raw" } }],
    },
    {
      code: "const byId = new Map(); b.handle(Upload, (p, ctx) => { byId.set(ctx.messageId, p.buf); });",
      output:
        "const byId = new Map(); b.handle(Upload, (p, ctx) => { byId.set(ctx.messageId, Buffer.from(p.buf)); });",
      errors: [{ messageId: "retained" }],
    },
  ],
});

const UPLOAD =
  "declare const b: { handle(c: unknown, h: (p: { image: Uint8Array; name: string }) => void): void };";

typed.run("no-retained-payload-buffer (by types)", asEslintRule(rule), {
  valid: [
    {
      name: "typed: a string field is not a view",
      code: `${UPLOAD} const names: string[] = []; b.handle(1, (p) => { names.push(p.name); });`,
      filename: typedFile,
    },
  ],
  invalid: [
    {
      name: "typed: a Uint8Array field under any name",
      code: `${UPLOAD} const kept: Uint8Array[] = []; b.handle(1, (p) => { kept.push(p.image); });`,
      output: `${UPLOAD} const kept: Uint8Array[] = []; b.handle(1, (p) => { kept.push(Buffer.from(p.image)); });`,
      filename: typedFile,
      errors: [{ messageId: "retained" }],
    },
  ],
});
