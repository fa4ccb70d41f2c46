/**
 * Operator actions on saga instances: list and read them, and settle a `failed` one — `resume`
 * (compensate again from where it stopped) or `abort` (leave it as is, closed, with a reason).
 */
import { checkArgument, describe, isRecord, nonEmptyString, withMethods } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { AnyContract } from "../mediator/contracts.js";
import type { Catga } from "../mediator/mediator.js";
import type { SagaAdvanceContract, SagaDefinition } from "./define.js";
import type { SagaInstance, SagaListQuery, SagaStatus, SagaStore } from "./instance.js";

/** Operator actions on one saga's instances. */
export interface SagaOperations<State> {
  /** Instances by id order, optionally of one status; page with `after` (the last id seen). */
  list(query?: Omit<SagaListQuery, "saga">): Promise<SagaInstance<State>[]>;
  /** One instance by id (state, status, step, error); undefined when there is none. */
  get(id: string): Promise<SagaInstance<State> | undefined>;
  /**
   * A `failed` instance compensates again from the step where it stopped (attempts start over);
   * resolves with the instance as written. Anything but `failed` is CATGA_INVALID_ARGUMENT.
   */
  resume(id: string, reason: string): Promise<SagaInstance<State>>;
  /** A `failed` instance ends as `aborted` with the reason: nothing more runs (you fixed it by hand). */
  abort(id: string, reason: string): Promise<SagaInstance<State>>;
  /**
   * Sends the advance command for an instance in progress (`running`, `waiting`, `compensating`),
   * e.g. one found by `list({ status: "running" })` long after its `updatedAt`: a start that was not
   * durable and whose host died before activating it, or a wait whose in-process timer died with
   * its host. Harmless on an instance that is moving: it moves at most once per revision.
   */
  wake(id: string): Promise<void>;
}

/**
 * Operator actions for `saga`. `catga` sends the advance command on `resume`: a mediator that hosts
 * the saga, or one that declares `.remote(saga.advance)` (any process of the service then resumes it).
 */
export function sagaOperations<State>(
  catga: Catga<SagaAdvanceContract> | Catga<AnyContract>,
  // biome-ignore lint/suspicious/noExplicitAny: any steps, sends and adds; only State matters here
  saga: SagaDefinition<State, any, any, any>,
  store: SagaStore,
): SagaOperations<State> {
  checkArgument("catga", catga ?? null, withMethods("send"));
  checkArgument("saga", saga ?? null, (value) =>
    isRecord(value) && typeof value.name === "string" && isRecord(value.advance)
      ? undefined
      : `must be a saga definition (defineSaga(...).build()), got ${describe(value)}`,
  );
  checkArgument("store", store ?? null, withMethods("get", "list", "update"));
  const name = saga.name;
  const settle = async (id: string, reason: string, action: "resume" | "abort") => {
    checkArgument("id", id ?? null, nonEmptyString);
    // Required, and said: a reason of blanks records nothing an operator could read later.
    if (typeof reason !== "string" || reason.trim() === "")
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `reason must say why (a non-blank string), got ${describe(reason)}`,
        { details: { field: "reason" } },
      );
    for (;;) {
      const instance = await store.get(name, id);
      if (instance?.status !== "failed")
        throw new CatgaError(
          ErrorCodes.INVALID_ARGUMENT,
          `saga ${name}: ${action} needs a failed instance; ${id} is ${instance === undefined ? "unknown" : instance.status}`,
          { details: { field: "id", id, status: (instance?.status ?? null) as SagaStatus | null } },
        );
      const { progress } = instance;
      const next: SagaInstance = {
        ...instance,
        status: action === "abort" ? "aborted" : "compensating",
        revision: instance.revision + 1,
        updatedAt: Date.now(),
        progress: {
          ...progress,
          ...(action === "resume"
            ? {
                undo: progress.undo ?? [...progress.done],
                undoAttempts: 0,
                resumes: (progress.resumes ?? 0) + 1,
              }
            : {}),
          operator: { action, reason, at: Date.now() },
        },
      };
      if (!(await store.update(next))) continue; // written meanwhile: look again
      if (action === "resume") {
        const sent = await (catga as Catga<AnyContract>).send(
          saga.advance,
          { id },
          { messageId: `saga-resume-${next.revision}-${id}`.slice(0, 200) },
        );
        if (!sent.ok)
          throw new CatgaError(
            ErrorCodes.TRANSPORT,
            `saga ${name}: resumed ${id} (now compensating) but could not activate it: ${sent.error.message}; call wake("${id}") once a host of the saga is reachable`,
            {
              details: { id, code: sent.error.code },
            },
          );
      }
      return next as SagaInstance<State>;
    }
  };
  return {
    list: async (query = {}) => {
      // These operations are one saga's: a `saga` naming another was silently replaced by this one.
      const asked = (query as { saga?: unknown } | null)?.saga;
      if (asked !== undefined && asked !== name)
        throw new CatgaError(
          ErrorCodes.INVALID_ARGUMENT,
          `saga: these operations list saga ${name}; make sagaOperations for ${describe(asked)}`,
          { details: { field: "saga" } },
        );
      return (await store.list({ ...query, saga: name })) as SagaInstance<State>[];
    },
    get: (id) => {
      checkArgument("id", id, nonEmptyString);
      return store.get(name, id) as Promise<SagaInstance<State> | undefined>;
    },
    resume: (id, reason) => settle(id, reason, "resume"),
    abort: (id, reason) => settle(id, reason, "abort"),
    wake: async (id) => {
      checkArgument("id", id, nonEmptyString);
      const instance = await store.get(name, id);
      if (instance === undefined || !["running", "waiting", "compensating"].includes(instance.status))
        throw new CatgaError(
          ErrorCodes.INVALID_ARGUMENT,
          `saga ${name}: wake needs an instance in progress; ${id} is ${instance === undefined ? "unknown" : instance.status}`,
          { details: { field: "id", id, status: instance?.status ?? null } },
        );
      const sent = await (catga as Catga<AnyContract>).send(
        saga.advance,
        { id },
        {
          messageId: `saga-wake-${instance.revision}-${id}`,
        },
      );
      if (!sent.ok)
        throw new CatgaError(
          ErrorCodes.TRANSPORT,
          `saga ${name}: could not wake ${id}: ${sent.error.message}`,
          {
            details: { id, code: sent.error.code },
          },
        );
    },
  };
}
