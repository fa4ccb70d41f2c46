/**
 * `@catga/eslint-plugin`: lint rules for code using `@catga/native`. Flat config:
 *
 * ```js
 * import catga from "@catga/eslint-plugin";
 * export default [catga.configs.recommended];
 * ```
 */
import type { TSESLint } from "@typescript-eslint/utils";
import maxRequestTimeout from "./rules/max-request-timeout.js";
import noBlockingInHandler from "./rules/no-blocking-in-handler.js";
import noErrorMessageMatch from "./rules/no-error-message-match.js";
import noFloatingResult from "./rules/no-floating-result.js";
import noRetainedPayloadBuffer from "./rules/no-retained-payload-buffer.js";
import requireIdempotencyForDurable from "./rules/require-idempotency-for-durable.js";

const rules = {
  "no-floating-result": noFloatingResult,
  "no-blocking-in-handler": noBlockingInHandler,
  "no-error-message-match": noErrorMessageMatch,
  "no-retained-payload-buffer": noRetainedPayloadBuffer,
  "max-request-timeout": maxRequestTimeout,
  "require-idempotency-for-durable": requireIdempotencyForDurable,
};

export type RuleName = keyof typeof rules;

const plugin = {
  meta: { name: "@catga/eslint-plugin", version: "0.1.0" },
  rules,
  configs: {} as { recommended: TSESLint.FlatConfig.Config },
};

/** Every rule of the plugin at "error" (all of them are in the recommended set today). */
plugin.configs.recommended = {
  name: "@catga/recommended",
  plugins: { "@catga": plugin as unknown as TSESLint.FlatConfig.Plugin }, // the plugin refers to itself
  rules: Object.fromEntries(
    Object.entries(rules)
      .filter(([, rule]) => rule.meta.docs?.recommended)
      .map(([name]) => [`@catga/${name}`, "error"]),
  ),
};

export default plugin;
