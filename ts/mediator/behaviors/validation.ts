import type { StandardSchemaV1 } from "@standard-schema/spec";
import { type FieldCheck, type IssueList, number } from "../../checks.js";
import { ErrorCodes, type ValidationIssue } from "../../errors.js";
import {
  type Behavior,
  type BehaviorContext,
  builtInStep,
  type Step,
  type StepMiddleware,
} from "../pipeline.js";
import { err, errorInfoFrom, type Result } from "../result.js";

/** Options of `withValidation`: checks payloads against the contract's Standard Schema. */
export interface ValidationOptions {
  /**
   * Place in the pipeline: higher runs first (outermost). Above idempotency (850) and retry
   * (800), so an invalid payload fails once with CATGA_VALIDATION and is never retried.
   * @default 900 (`VALIDATION_PRIORITY`)
   */
  readonly priority?: number;
}

/** The validation behavior's default priority: inside logging, outside idempotency (higher runs first). */
export const VALIDATION_PRIORITY = 900;

const fields: Record<string, FieldCheck> = { priority: number(Number.NEGATIVE_INFINITY) };

type Outcome = StandardSchemaV1.Result<unknown> | PromiseLike<StandardSchemaV1.Result<unknown>>;

function isSchemaPending(outcome: Outcome): outcome is PromiseLike<StandardSchemaV1.Result<unknown>> {
  return typeof (outcome as { then?: unknown }).then === "function";
}

function pathOf(issue: StandardSchemaV1.Issue): string {
  if (issue.path === undefined) return "";
  return issue.path.map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".");
}

function validationError(type: string, issues: readonly StandardSchemaV1.Issue[]): Result<never> {
  const list: ValidationIssue[] = issues.map((issue) => ({ path: pathOf(issue), message: issue.message }));
  const summary = list.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  return err(ErrorCodes.VALIDATION, `Invalid payload for ${type}: ${summary}`, { issues: list });
}

/**
 * Checks the payload against the contract's Standard Schema and hands the schema's *output*
 * (defaults applied, transforms run) to the rest of the pipeline. Contracts without a schema skip it.
 */
export function validationBehavior(options: ValidationOptions | undefined, issues: IssueList): Behavior {
  issues.checkObject("validation", options, fields);
  const outcomesByType = new Map<string, WeakMap<object, Outcome>>();
  const sharedOutcomes = (type: string): WeakMap<object, Outcome> => {
    let outcomes = outcomesByType.get(type);
    if (outcomes === undefined) {
      outcomes = new WeakMap();
      outcomesByType.set(type, outcomes);
    }
    return outcomes;
  };
  return builtInStep("validation", options?.priority ?? VALIDATION_PRIORITY, (target) => {
    const schema = target.contract.schema;
    // Remote handlers validate on their side; validating here too would send the schema's
    // output through a schema that expects its input.
    if (schema === undefined || target.remote) return undefined;
    const type = target.contract.type;
    const proceed = (
      outcome: StandardSchemaV1.Result<unknown>,
      ctx: BehaviorContext,
      next: Step,
    ): Result<unknown> | PromiseLike<Result<unknown>> =>
      outcome.issues === undefined ? next(outcome.value, ctx) : validationError(type, outcome.issues);
    // A schema that throws (a buggy refinement) is a validation failure, not a crashed call.
    const schemaFailed = (thrown: unknown): Result<never> => {
      const message = `Schema for ${type} threw: ${errorInfoFrom(thrown).message}`;
      // Same shape as any validation failure: callers read details.issues.
      return err(ErrorCodes.VALIDATION, message, { issues: [{ path: "", message }] }, thrown);
    };
    const validate = (payload: unknown): Outcome => {
      try {
        return schema["~standard"].validate(payload);
      } catch (thrown) {
        return Promise.reject(thrown);
      }
    };
    // An event's handlers share one context per publish: validate once, not once per handler.
    const shared = target.kind === "event" ? sharedOutcomes(type) : undefined;
    const step: StepMiddleware = (payload, ctx, next) => {
      let outcome = shared?.get(ctx);
      if (outcome === undefined) {
        outcome = validate(payload);
        shared?.set(ctx, outcome);
      }
      // Any thenable: an async schema may answer with another realm's or a library's promise.
      return isSchemaPending(outcome)
        ? outcome.then((resolved) => proceed(resolved, ctx, next), schemaFailed)
        : proceed(outcome, ctx, next);
    };
    return step;
  });
}
