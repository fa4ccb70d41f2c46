/**
 * `@catga/eslint-plugin`: lint rules for code using `@catga/native`. Flat config:
 *
 * ```js
 * import catga from "@catga/eslint-plugin";
 * export default [catga.configs.recommended];
 * ```
 */
import type { TSESLint } from "@typescript-eslint/utils";
import boundedSagaState from "./rules/bounded-saga-state.js";
import maxRequestTimeout from "./rules/max-request-timeout.js";
import noBlockingInHandler from "./rules/no-blocking-in-handler.js";
import noErrorMessageMatch from "./rules/no-error-message-match.js";
import noFloatingResult from "./rules/no-floating-result.js";
import noRetainedPayloadBuffer from "./rules/no-retained-payload-buffer.js";
import noUnhandledEvent from "./rules/no-unhandled-event.js";
import requireIdempotencyForDurable from "./rules/require-idempotency-for-durable.js";

const rules = {
  "no-floating-result": noFloatingResult,
  "no-blocking-in-handler": noBlockingInHandler,
  "no-error-message-match": noErrorMessageMatch,
  "no-retained-payload-buffer": noRetainedPayloadBuffer,
  "max-request-timeout": maxRequestTimeout,
  "require-idempotency-for-durable": requireIdempotencyForDurable,
  "no-unhandled-event": noUnhandledEvent,
  "bounded-saga-state": boundedSagaState,
};

export type RuleName = keyof typeof rules;

type Config = TSESLint.FlatConfig.Config;

const plugin = {
  meta: { name: "@catga/eslint-plugin", version: "0.1.0" },
  rules,
  configs: {} as { recommended: Config; all: Config },
};

function configOf(name: string, filter: (rule: (typeof rules)[RuleName]) => boolean): Config {
  return {
    name,
    plugins: { "@catga": plugin as unknown as TSESLint.FlatConfig.Plugin }, // the plugin refers to itself
    rules: Object.fromEntries(
      Object.entries(rules)
        .filter(([, rule]) => filter(rule))
        .map(([name]) => [`@catga/${name}`, "error"]),
    ),
  };
}

/**
 * `recommended`: every rule that is right on its own file. `all` adds `no-unhandled-event`, which
 * is right only when the linted TypeScript project holds every service that handles the events.
 */
plugin.configs.recommended = configOf("@catga/recommended", (rule) => rule.meta.docs?.recommended === true);
plugin.configs.all = configOf("@catga/all", () => true);

export default plugin;
