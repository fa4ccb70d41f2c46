// Shared set-up of the rule tests: ESLint's RuleTester driven by vitest, with the TypeScript
// parser, untyped (names only) or typed (a tiny project in tests/typed/, the code under test
// standing in for tests/typed/file.ts).
import { fileURLToPath } from "node:url";
import tsParser from "@typescript-eslint/parser";
import { type Rule, RuleTester } from "eslint";
import { describe, it } from "vitest";

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const typedRoot = fileURLToPath(new URL("./typed/", import.meta.url));

/** Type-free: rules decide by names, as for plain JS or a config without a project. */
export const untyped = new RuleTester({
  languageOptions: { parser: tsParser, ecmaVersion: 2022, sourceType: "module" },
});

/** Type-aware: the parser has a program, rules decide by types. */
export const typed = new RuleTester({
  languageOptions: {
    parser: tsParser,
    ecmaVersion: 2022,
    sourceType: "module",
    parserOptions: {
      project: "./tsconfig.json",
      tsconfigRootDir: typedRoot,
      // With CI=true typescript-eslint infers a "single run" and builds the program once from the
      // files on disk, so each test's code for file.ts would be ignored (found by the CI run).
      disallowAutomaticSingleRunInference: true,
    },
  },
});

/** The file name typed tests must use (it belongs to the tiny project). */
export const typedFile = `${typedRoot}file.ts`;

/** Declarations of the Catga shapes the typed tests use (a stand-in for `@catga/native`). */
export const CATGA_TYPES = `
type OkResult<T> = { ok: true; value: T; unwrap(): T };
type ErrResult = { ok: false; error: ErrorInfo; unwrap(): never };
type Result<T> = OkResult<T> | ErrResult;
interface ErrorInfo { readonly code: string; readonly message: string; readonly details?: unknown }
declare class CatgaError extends Error { readonly code: string }
interface Contract<K extends string, D = undefined> { readonly kind: K; readonly delivery: D; readonly type: string }
interface Mediator {
  send(c: Contract<"command", unknown>, p: unknown): Promise<Result<unknown>>;
  query(c: Contract<"query">, p: unknown): Promise<Result<unknown>>;
  publish(c: Contract<"event">, p: unknown): Promise<Result<{ handled: number }>>;
}
declare const PlaceOrder: Contract<"command", "request">;
declare const Capture: Contract<"command", "durable">;
declare const OrderPlaced: Contract<"event">;
`;

/**
 * A typescript-eslint rule as ESLint's RuleTester types it: the same object at run time, but the
 * two packages' `RuleContext` types differ (typescript-eslint still lists the ESLint 8 methods).
 */
export function asEslintRule(rule: { create: unknown }): Rule.RuleModule {
  return rule as unknown as Rule.RuleModule; // see above: identical at run time
}
