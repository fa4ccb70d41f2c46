/**
 * The checks every `SagaStore.list` runs on its query, so the three stores refuse the same bad
 * input the same way (a misspelt `status` used to list every status, silently).
 */
import { describe, integer, isRecord } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { SAGA_LIST_LIMIT, type SagaListQuery, type SagaStatus } from "./instance.js";

const KEYS = new Set(["saga", "status", "limit", "after"]);
const STATUSES: ReadonlySet<SagaStatus> = new Set([
  "running",
  "waiting",
  "compensating",
  "completed",
  "compensated",
  "failed",
  "aborted",
]);

/** Checks `query` (CATGA_INVALID_ARGUMENT naming the field) and answers its page size. */
export function listLimit(query: SagaListQuery): number {
  if (!isRecord(query))
    throw invalid("query", `must be an object { saga, status?, limit?, after? }, got ${describe(query)}`);
  for (const key of Object.keys(query))
    if (!KEYS.has(key)) throw invalid(key, `is not a list option (expected one of: ${[...KEYS].join(", ")})`);
  if (typeof query.saga !== "string" || query.saga.length === 0)
    throw invalid("saga", `must be a saga name, got ${describe(query.saga)}`);
  if (query.status !== undefined && !STATUSES.has(query.status))
    throw invalid("status", `must be one of ${[...STATUSES].join(", ")}, got ${describe(query.status)}`);
  if (query.after !== undefined && typeof query.after !== "string")
    throw invalid(
      "after",
      `must be an instance id (the last of the previous page), got ${describe(query.after)}`,
    );
  const limit = query.limit ?? SAGA_LIST_LIMIT.default;
  const problem = integer(1, SAGA_LIST_LIMIT.max)(limit);
  if (problem !== undefined) throw invalid("limit", problem);
  return limit;
}

function invalid(field: string, problem: string): CatgaError {
  return new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${field} ${problem}`, { details: { field } });
}
