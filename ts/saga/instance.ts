/**
 * A saga instance as stored: the user's state plus what the engine needs to resume it anywhere
 * (which step is next, which are done, what is in flight), and the store interface that keeps it
 * with optimistic concurrency on `revision`.
 */

/**
 * Where an instance is. `completed`, `compensated` and `aborted` are final; `failed` waits for an
 * operator (`resume` or `abort`); the others are in progress.
 */
export type SagaStatus =
  | "running"
  | "waiting"
  | "compensating"
  | "completed"
  | "compensated"
  | "failed"
  | "aborted";

/** The statuses that end an instance (an operator moves `failed` to one of them, or back to work). */
export const FINAL_STATUSES: readonly SagaStatus[] = ["completed", "compensated", "aborted"];

/** Why an instance left the forward path or stopped: the failing step's error, or the operator's reason. */
export interface SagaError {
  readonly code: string;
  readonly message: string;
  /** The step (or compensated step) that failed. */
  readonly step?: string;
}

/** The engine's bookkeeping, stored next to the state (JSON). */
export interface SagaProgress {
  /** Epoch ms when the instance was created. */
  readonly startedAt: number;
  /** Epoch ms after which the forward path stops and compensation begins (the saga deadline). */
  readonly deadlineAt?: number;
  /** Names of the steps whose effect happened, in order: what compensation undoes, in reverse. */
  readonly done: readonly string[];
  /** The step whose command was sent and whose Result is not recorded yet (a crash leaves it here). */
  readonly inFlight?: string;
  /** While compensating: the steps still to undo; the last one is next. */
  readonly undo?: readonly string[];
  /** Attempts made so far at compensating the last step of `undo`. */
  readonly undoAttempts?: number;
  /**
   * Operator resumes so far: part of each compensation's message id after the first, so a resumed
   * attempt is a new message (the same id would be a duplicate a durable command drops).
   */
  readonly resumes?: number;
  /** While waiting: epoch ms when the wait times out. */
  readonly waitUntil?: number;
  /** While waiting: the schedule id of the advance that times the wait out (cancelled when the event comes first). */
  readonly timer?: string;
  /** Events that arrived for wait steps, by step name (also before the instance reached the step). */
  readonly received?: Readonly<Record<string, unknown>>;
  /** What made the instance compensate or fail. */
  readonly error?: SagaError;
  /** The W3C `traceparent` of the instance's trace (with observability): its spans join it. */
  readonly trace?: string;
  /** The last operator action (`resume`/`abort`) and its reason. */
  readonly operator?: { readonly action: "resume" | "abort"; readonly reason: string; readonly at: number };
}

/** One stored saga instance. `State` is the saga's state type (JSON-serializable). */
export interface SagaInstance<State = unknown> {
  /** The saga's name (`defineSaga(name)`). */
  readonly saga: string;
  /** The instance id, from the start message (`startedBy(..., { id })`). */
  readonly id: string;
  readonly status: SagaStatus;
  /** Index of the next forward step (or, when compensating, of the step that failed). */
  readonly step: number;
  /** Bumped by every write; a write naming an older revision is refused. */
  readonly revision: number;
  readonly state: State;
  readonly progress: SagaProgress;
  /** Epoch ms of the last write. */
  readonly updatedAt: number;
}

/** A page of `SagaStore.list`. */
export interface SagaListQuery {
  readonly saga: string;
  /** Only instances in this status. */
  readonly status?: SagaStatus;
  /** At most this many, by id order. @default 100 */
  readonly limit?: number;
  /** Ids after this one (pass the last id of the previous page). */
  readonly after?: string;
}

/**
 * Keeps saga instances. Every write but the first names the revision it read: `update` succeeds only
 * if the stored revision is still `next.revision - 1`, so two activations of one instance (an event
 * and a timeout) never both move it. Failures are `CATGA_STORE_FAILED`.
 */
export interface SagaStore {
  /** Stores a new instance (revision 1); false when (saga, id) already exists. */
  insert(instance: SagaInstance): Promise<boolean>;
  /** The instance `id` of saga `saga` as last stored; undefined when there is none. */
  get(saga: string, id: string): Promise<SagaInstance | undefined>;
  /** Replaces the instance if its stored revision is `next.revision - 1`; false otherwise. */
  update(next: SagaInstance): Promise<boolean>;
  /** Instances of one saga, by id, optionally of one status. */
  list(query: SagaListQuery): Promise<SagaInstance[]>;
}

/** How many instances of one saga are in one status (operator views: `sagaCounts`). */
export interface SagaStatusCount {
  readonly saga: string;
  readonly status: SagaStatus;
  readonly count: number;
  /** The least recently written instance's `updatedAt`, epoch ms: a stuck one shows here. */
  readonly oldestUpdatedAt: number;
}

/** Default and largest page size of `SagaStore.list`. */
export const SAGA_LIST_LIMIT = { default: 100, max: 1000 } as const;
