import rule from "../src/rules/no-error-message-match.js";
import { asEslintRule, CATGA_TYPES, typed, typedFile, untyped } from "./helpers.js";

untyped.run("no-error-message-match (by names)", asEslintRule(rule), {
  valid: [
    'if (!r.ok && r.error.code === "CATGA_TIMEOUT") retry();',
    "console.error(r.error.code, r.error.message);",
    'log("failed: " + result.error.message);',
    // an arbitrary error is not matched by name alone
    'try { run(); } catch (e) { if (e.message.includes("ENOENT")) skip(); }',
  ],
  invalid: [
    {
      code: 'if (!r.ok && r.error.message === "timed out") retry();',
      errors: [{ messageId: "byMessage" }],
    },
    {
      code: 'if (result.error?.message.includes("rate")) wait();',
      errors: [{ messageId: "byMessage" }],
    },
    {
      code: "const { error } = r; if (/timeout/i.test(error.message)) retry();",
      errors: [{ messageId: "byMessage" }],
    },
    {
      code: "const e = r.error; switch (e.message) { case 'x': break; }",
      errors: [{ messageId: "byMessage" }],
    },
  ],
});

typed.run("no-error-message-match (by types)", asEslintRule(rule), {
  valid: [
    {
      name: "typed: a plain Error has no code",
      code: `${CATGA_TYPES} declare const e: Error; if (e.message === "x") {}`,
      filename: typedFile,
    },
    {
      name: "typed: matching by code",
      code: `${CATGA_TYPES} declare const e: CatgaError; if (e.code === "CATGA_TIMEOUT") {}`,
      filename: typedFile,
    },
  ],
  invalid: [
    {
      name: "typed: a CatgaError narrowed in a catch",
      code: `${CATGA_TYPES} try {} catch (e) { if (e instanceof CatgaError && e.message.startsWith("timed")) {} }`,
      filename: typedFile,
      errors: [{ messageId: "byMessage" }],
    },
    {
      name: "typed: a Result's error under any name",
      code: `${CATGA_TYPES} declare const out: Result<number>; if (!out.ok && out.error.message == "x") {}`,
      filename: typedFile,
      errors: [{ messageId: "byMessage" }],
    },
  ],
});
