/** The options of `operationsDashboard`, who may do what (`auth`), and their checks. */
import type { IncomingMessage } from "node:http";
import {
  describe,
  type FieldCheck,
  IssueList,
  integer,
  isRecord,
  nonEmptyString,
  withMethods,
} from "../checks.js";
import type { Member } from "../cluster/membership.js";
import type { Logger } from "../mediator/logger.js";
import type { DeadLetters } from "../operations/dead-letters.js";
import type { PgQueryable } from "../persistence/pg.js";

/**
 * What a request may do: `"operate"` reads and acts (replay, purge), `"read"` only reads (no
 * buttons, POSTs refused), `false` is refused with 403, and `{ status, headers }` is refused with
 * that answer (e.g. `401` with `www-authenticate: Basic realm="ops"`).
 */
export type DashboardAccess =
  | "operate"
  | "read"
  | false
  | { readonly status: 401 | 403; readonly headers?: Readonly<Record<string, string>> };

/**
 * Decides what a request may do, from the Node request (cookies, `authorization`, the socket).
 * Called once per request, before anything is read; a throw answers 500 and acts on nothing.
 */
export type DashboardAuth = (request: IncomingMessage) => DashboardAccess | Promise<DashboardAccess>;

/** What the dashboard calls to settle a failed saga instance; a `SagaOperations` has both. */
export interface SagaActions {
  /** Compensates again from where it stopped. */
  resume(id: string, reason: string): Promise<unknown>;
  /** Ends it as `aborted`, nothing more runs. */
  abort(id: string, reason: string): Promise<unknown>;
}

/** Serve every request read-only without asking anyone: the one way to run without an `auth` hook. */
export const ANONYMOUS_READ_ONLY = "anonymous-read-only";

/** Options of `operationsDashboard`. */
export interface OperationsDashboardOptions {
  /** The dead letters to show and act on (`await deadLetters(transport)`). */
  readonly deadLetters: DeadLetters;
  /**
   * Who may see and do what: a hook called per request ({@link DashboardAuth}), or
   * `"anonymous-read-only"` to serve everyone read-only. Required: the dashboard replays and
   * purges messages, so it never acts for an unauthenticated caller by default.
   */
  readonly auth: DashboardAuth | typeof ANONYMOUS_READ_ONLY;
  /**
   * A `pg` Pool for the outbox, inbox and saga views; without it those views are not shown.
   * @default none
   */
  readonly pool?: PgQueryable;
  /**
   * The cluster this process is a member of (`await cluster(transport)`): the Cluster page lists
   * its view of the members. Without it that page is not shown.
   * @default none
   */
  readonly cluster?: {
    /** The members in this process's view (a `Cluster` has it). */
    members(): readonly Omit<Member, "self">[];
  };
  /**
   * Operator actions per saga name (`sagaOperations(catga, saga, store)`): the saga instances page
   * then offers Resume and Abort, with a reason, on each failed instance of those sagas, to
   * callers allowed to operate. Without it the page only reads.
   * @default none
   */
  readonly sagaActions?: Readonly<Record<string, SagaActions>>;
  /** Schema of the Catga tables (as given to `migrate`). @default the connection's search_path */
  readonly schema?: string;
  /**
   * Secret that signs the anti-CSRF tokens. Give the same one to every instance behind a load
   * balancer, so a form served by one is accepted by another.
   * @default 32 random bytes per `operationsDashboard` call
   */
  readonly csrfSecret?: string | Uint8Array;
  /**
   * Dead letters per page of the list (1–1000).
   * @default 50
   */
  readonly pageSize?: number;
  /**
   * Where failures the page does not explain go: an auth hook that threw, an error that is not a
   * `CatgaError` (the page says only "internal error"). Coded errors are shown, not logged.
   * @default none (not logged)
   */
  readonly logger?: Logger;
  /**
   * The heading of every page.
   * @default "Catga operations"
   */
  readonly title?: string;
}

export const DEFAULT_PAGE_SIZE = 50;

const auth: FieldCheck = (value) =>
  typeof value === "function" || value === ANONYMOUS_READ_ONLY
    ? undefined
    : `must be a function (request) => "operate" | "read" | false, or "${ANONYMOUS_READ_ONLY}", got ${describe(value)}`;

const deadLettersCheck: FieldCheck = (value) =>
  isRecord(value) && ["list", "get", "counts", "replay", "purge"].every((m) => typeof value[m] === "function")
    ? undefined
    : `must be the result of await deadLetters(transport), got ${describe(value)}`;

const secret: FieldCheck = (value) =>
  (typeof value === "string" || value instanceof Uint8Array) && value.length >= 16
    ? undefined
    : `must be a string or bytes of at least 16, got ${describe(value)}`;

/** Checks the options; throws one CatgaConfigError listing every problem. */
export function checkDashboardOptions(options: unknown): OperationsDashboardOptions {
  const issues = new IssueList();
  const record = issues.checkObject("", options ?? {}, {
    deadLetters: deadLettersCheck,
    auth,
    pool: (value) =>
      isRecord(value) && typeof value.query === "function"
        ? undefined
        : `must be a pg Pool, got ${describe(value)}`,
    cluster: (value) =>
      isRecord(value) && typeof value.members === "function"
        ? undefined
        : `must be a Cluster (await cluster(transport)), got ${describe(value)}`,
    sagaActions: (value) =>
      isRecord(value) &&
      Object.values(value).every(
        (ops) => isRecord(ops) && typeof ops.resume === "function" && typeof ops.abort === "function",
      )
        ? undefined
        : `must map saga names to sagaOperations(catga, saga, store), got ${describe(value)}`,
    schema: nonEmptyString,
    csrfSecret: secret,
    pageSize: integer(1, 1000),
    title: nonEmptyString,
    logger: withMethods("error"),
  });
  if (record.deadLetters === undefined)
    issues.add("deadLetters", "is required (await deadLetters(transport))");
  if (record.auth === undefined)
    issues.add(
      "auth",
      `is required: a hook (request) => "operate" | "read" | false, or "${ANONYMOUS_READ_ONLY}" to serve read-only without one`,
    );
  issues.throwIfAny();
  return options as OperationsDashboardOptions;
}
