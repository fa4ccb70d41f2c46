/**
 * `defineSaga`: the typed description of a workflow — what starts it, its steps (commands sent with a
 * payload built from the state, events waited for), their compensations and deadlines. Only data:
 * the engine (engine.ts) runs it once a builder hosts it with `.saga()`.
 */
import { describe } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import {
  type AnyCommand,
  type AnyContract,
  type AnyEvent,
  type CommandContract,
  defineCommand,
  type InputOf,
  type PayloadOf,
  type ResultOf,
} from "../mediator/contracts.js";
import type { ExtensionTarget, Installable } from "../mediator/extension.js";
import { installSaga, type SagaHostOptions } from "./host.js";

/** Saga names, step names and instance ids: they become parts of message ids and subjects. */
export const SAGA_NAME = /^[A-Za-z0-9_-]{1,100}$/;

/** What the internal advance command carries: the instance to move on. */
export interface SagaAdvance {
  readonly id: string;
}

/** The internal durable command that drives one instance (docs/architecture/sagas.md, "Crash recovery"). */
export type SagaAdvanceContract = CommandContract<string, SagaAdvance, SagaAdvance, void, "durable">;

/** What a start command's handler returns (declare `.returns<SagaStarted>()` on it to read it). */
export interface SagaStarted {
  readonly sagaId: string;
  /** False when an instance with this id already existed (a redelivered or repeated start). */
  readonly started: boolean;
}

/** How a start message creates an instance. */
export interface SagaStartOptions<Payload, State> {
  /**
   * The instance id, from the start message: also the key events are correlated by (`waitFor`'s
   * `key`). Letters, digits, `_` and `-`, at most 100.
   */
  readonly id: (payload: Payload) => string;
  /** The initial state; it must survive JSON (it is stored as JSON). */
  readonly init: (payload: Payload) => State;
}

/** A step that sends a command (local, `.remote()` or `.durable()`) and records its Result. */
export interface SagaSendStep<State, Command extends AnyCommand> {
  readonly send: Command;
  /** The command's payload, from the state. */
  readonly payload: (state: Readonly<State>) => InputOf<Command>;
  /**
   * Records the command's value into the state (a new state). An error Result fails the step.
   * @default the state unchanged
   */
  readonly result?: (state: State, value: ResultOf<Command>) => State;
  /**
   * The step runs only when this is true; otherwise it is skipped (and has nothing to compensate).
   * @default always runs
   */
  readonly when?: (state: Readonly<State>) => boolean;
  /**
   * Bound on the step (the send's signal); on expiry it fails with CATGA_TIMEOUT and, since its
   * effect may have happened, its compensation runs too.
   * @default the transport's request timeout; durable commands: `requestTimeoutMs` (5 s)
   */
  readonly timeoutMs?: number;
}

/** A step that waits for an event of one instance, correlated by a key from the event's payload. */
export interface SagaWaitStep<State, Event extends AnyEvent> {
  readonly event: Event;
  /** The instance the event belongs to: its id (`startedBy`'s `id`). */
  readonly key: (payload: PayloadOf<Event>) => string;
  /**
   * How long to wait once the instance reaches the step; then the step fails with CATGA_TIMEOUT.
   * Timed by the transport's scheduling when it has it (survives a restart), else in process.
   */
  readonly timeoutMs: number;
  /** Records the event into the state. @default the state unchanged */
  readonly result?: (state: State, payload: PayloadOf<Event>) => State;
  /** The step runs only when this is true. @default always */
  readonly when?: (state: Readonly<State>) => boolean;
}

/** Undoes a step: a command built from the state, retried until it succeeds or the saga fails. */
export interface SagaCompensation<State, Command extends AnyCommand> {
  /** The command that undoes the step. */
  readonly send: Command;
  /** Its payload, from the state as the step left it. */
  readonly payload: (state: Readonly<State>) => InputOf<Command>;
}

/**
 * One branch of a parallel step: a command sent with the others from the state as the step found
 * it. Its `result` is applied at fan-in, in the order the branches are declared.
 */
export type SagaParallelBranch<State, Command extends AnyCommand> = Omit<
  SagaSendStep<State, Command>,
  "when"
>;

/** Options of a parallel step as a whole. */
export interface SagaParallelOptions<State> {
  /** The branches run only when this is true; otherwise the step is skipped. @default always */
  readonly when?: (state: Readonly<State>) => boolean;
}

/** A send step as the engine sees it (also each branch of a parallel step). */
export interface SendStepDefinition {
  readonly kind: "send";
  readonly name: string;
  readonly contract: AnyCommand;
  readonly payload: (state: unknown) => unknown;
  readonly result?: (state: unknown, value: unknown) => unknown;
  readonly when?: (state: unknown) => boolean;
  readonly timeoutMs?: number;
}

/** One step as the engine sees it. */
export type StepDefinition =
  | SendStepDefinition
  | {
      readonly kind: "parallel";
      readonly name: string;
      /** Sent together; the step is done when all succeeded (fan-in). */
      readonly branches: readonly SendStepDefinition[];
      readonly when?: (state: unknown) => boolean;
    }
  | {
      readonly kind: "wait";
      readonly name: string;
      readonly event: AnyEvent;
      readonly key: (payload: unknown) => string;
      readonly timeoutMs: number;
      readonly result?: (state: unknown, payload: unknown) => unknown;
      readonly when?: (state: unknown) => boolean;
    };

/** One compensation as the engine sees it. */
export interface CompensationDefinition {
  /** The command that undoes the step. */
  readonly send: AnyCommand;
  /** Its payload, from the state. */
  readonly payload: (state: unknown) => unknown;
}

/** What the engine reads from a definition. */
export interface SagaBlueprint {
  readonly name: string;
  readonly advance: SagaAdvanceContract;
  readonly start:
    | { readonly contract: AnyContract; readonly options: SagaStartOptions<unknown, unknown> }
    | undefined;
  readonly steps: readonly StepDefinition[];
  readonly compensations: ReadonlyMap<string, CompensationDefinition>;
  readonly deadlineMs: number | undefined;
  /** Definition mistakes, reported by `build()` as one CatgaConfigError. */
  readonly problems: readonly { readonly path: string; readonly message: string }[];
}

/**
 * A saga's definition. Type parameters: `State` (the instance's state), `Steps` (step names, for
 * `compensate`), `Sends` (commands its steps send: the builder checks each is handled or remote),
 * `Adds` (what hosting it handles: the start message, the events waited for, the advance command).
 */
export class SagaDefinition<
  State,
  Steps extends string = never,
  Sends extends AnyContract = never,
  Adds extends AnyContract = SagaAdvanceContract,
> implements Installable<Sends, Adds, SagaHostOptions>
{
  readonly name: string;
  /** The internal command that moves an instance on; an operator process declares it `.remote()`. */
  readonly advance: SagaAdvanceContract;
  private startWith: SagaBlueprint["start"];
  private readonly stepList: StepDefinition[] = [];
  private readonly undo = new Map<string, CompensationDefinition>();
  private deadline: number | undefined;
  private readonly problems: { path: string; message: string }[] = [];

  /** Use {@link defineSaga}; `name` follows the contract-name grammar. */
  constructor(name: string) {
    if (typeof name !== "string" || !SAGA_NAME.test(name))
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `defineSaga: name ${JSON.stringify(String(name).slice(0, 100))} must be 1-100 ASCII letters, digits, '_' or '-'`,
        { details: { field: "name" } },
      );
    this.name = name;
    this.advance = defineCommand(`catga.saga.${name}.advance`)
      .payload<SagaAdvance>()
      .durable() as unknown as SagaAdvanceContract; // the token is the same object; only its types differ
  }

  /** The contracts the builder must already handle or declare remote (checked when hosted). */
  get sends(): readonly Sends[] {
    return [
      ...this.stepList.flatMap((s) =>
        s.kind === "send" ? [s.contract] : s.kind === "parallel" ? s.branches.map((b) => b.contract) : [],
      ),
      ...[...this.undo.values()].map((c) => c.send),
    ] as unknown as Sends[]; // the union is tracked in the type parameter
  }

  /** The contracts hosting the saga handles. */
  get adds(): readonly Adds[] {
    return [
      this.advance,
      ...(this.startWith === undefined ? [] : [this.startWith.contract]),
      ...this.stepList.flatMap((s) => (s.kind === "wait" ? [s.event] : [])),
    ] as unknown as Adds[]; // the union is tracked in the type parameter
  }

  /** The message that creates an instance: a command (handled by the saga's host) or an event. */
  startedBy<Start extends AnyCommand | AnyEvent>(
    contract: Start,
    options: SagaStartOptions<PayloadOf<Start>, State>,
  ): SagaDefinition<State, Steps, Sends, Adds | Start> {
    if (this.startWith !== undefined) this.problem("startedBy", "a saga has one start message");
    else if (typeof options?.id !== "function" || typeof options?.init !== "function")
      this.problem("startedBy", "needs { id(payload), init(payload) } functions");
    this.unknownKeys("startedBy", options, ["id", "init"]);
    this.startWith = { contract, options: options as SagaStartOptions<unknown, unknown> };
    return this as unknown as SagaDefinition<State, Steps, Sends, Adds | Start>;
  }

  /** A step that sends a command; steps run in the order they are declared. */
  step<const Name extends string, Command extends AnyCommand>(
    name: Name,
    options: SagaSendStep<State, Command>,
  ): SagaDefinition<State, Steps | Name, Sends | Command, Adds> {
    if (this.checkStepName(name)) this.stepList.push(this.sendStep(`steps.${name}`, name, options));
    return this as unknown as SagaDefinition<State, Steps | Name, Sends | Command, Adds>;
  }

  /**
   * A step that sends several commands at once (its branches, keyed by name) and is done when all
   * succeeded (fan-in): their `result`s are then applied in declaration order. If one fails, the
   * branches that succeeded (and any that timed out) are compensated with the steps before, in
   * reverse order. Branch names are step names: `compensate` takes them.
   */
  parallel<const Name extends string, Commands extends Record<string, AnyCommand>>(
    name: Name,
    branches: { [Branch in keyof Commands]: SagaParallelBranch<State, Commands[Branch]> },
    options?: SagaParallelOptions<State>,
  ): SagaDefinition<State, Steps | (keyof Commands & string), Sends | Commands[keyof Commands], Adds> {
    type Result = SagaDefinition<
      State,
      Steps | (keyof Commands & string),
      Sends | Commands[keyof Commands],
      Adds
    >;
    if (!this.checkStepName(name)) return this as unknown as Result;
    const entries = typeof branches === "object" && branches !== null ? Object.entries(branches) : [];
    if (entries.length < 2) {
      this.problem(`steps.${name}.branches`, "a parallel step needs at least two branches (one is a step)");
      return this as unknown as Result;
    }
    this.optionalFunction(`steps.${name}.when`, options?.when, "a function of the state");
    this.unknownKeys(`steps.${name}`, options, ["when"]);
    const list: SendStepDefinition[] = [];
    for (const [branch, definition] of entries)
      if (branch === name) this.problem(`steps.${name}.branches.${branch}`, "duplicate step name");
      else if (this.checkStepName(branch, list))
        list.push(
          this.sendStep(
            `steps.${name}.branches.${branch}`,
            branch,
            definition as SagaParallelBranch<State, AnyCommand>,
          ),
        );
    this.stepList.push({
      kind: "parallel",
      name,
      branches: list,
      when: options?.when as ((state: unknown) => boolean) | undefined,
    });
    return this as unknown as Result;
  }

  /** A send step's (or branch's) definition, its mistakes recorded under `path`. */
  private sendStep(
    path: string,
    name: string,
    options: SagaSendStep<State, AnyCommand> | SagaParallelBranch<State, AnyCommand>,
  ): SendStepDefinition {
    // A parallel branch has no `when` (the parallel step's own options hold it).
    const branch = path.includes(".branches.");
    this.unknownKeys(
      path,
      options,
      branch
        ? ["send", "payload", "result", "timeoutMs"]
        : ["send", "payload", "result", "when", "timeoutMs"],
    );
    if (typeof options?.send?.type !== "string" || options.send.kind !== "command")
      this.problem(`${path}.send`, "must be a command contract (defineCommand)");
    else if (typeof options.payload !== "function")
      this.problem(`${path}.payload`, "must be a function of the state");
    else if (
      options.timeoutMs !== undefined &&
      !(options.timeoutMs > 0 && Number.isFinite(options.timeoutMs))
    )
      this.problem(`${path}.timeoutMs`, `must be a positive finite number, got ${String(options.timeoutMs)}`);
    this.optionalFunction(`${path}.result`, options?.result, "a function of the state and the step's result");
    this.optionalFunction(
      `${path}.when`,
      (options as { when?: unknown } | undefined)?.when,
      "a function of the state",
    );
    return {
      kind: "send",
      name,
      contract: options?.send as AnyCommand,
      payload: options?.payload as (state: unknown) => unknown,
      result: options?.result as ((state: unknown, value: unknown) => unknown) | undefined,
      when: (options as { when?: unknown } | undefined)?.when as ((state: unknown) => boolean) | undefined,
      timeoutMs: options?.timeoutMs,
    };
  }

  /** A step that waits for an event correlated to the instance by `key`. */
  waitFor<const Name extends string, Event extends AnyEvent>(
    name: Name,
    options: SagaWaitStep<State, Event>,
  ): SagaDefinition<State, Steps | Name, Sends, Adds | Event> {
    if (this.checkStepName(name)) {
      this.unknownKeys(`steps.${name}`, options, ["event", "key", "timeoutMs", "result", "when"]);
      if (typeof options?.event?.type !== "string" || options.event.kind !== "event")
        this.problem(`steps.${name}.event`, "must be an event contract (defineEvent)");
      else if (typeof options.key !== "function")
        this.problem(`steps.${name}.key`, "must be a function of the event's payload");
      else if (
        !(
          typeof options.timeoutMs === "number" &&
          options.timeoutMs > 0 &&
          Number.isFinite(options.timeoutMs)
        )
      )
        this.problem(
          `steps.${name}.timeoutMs`,
          `must be a positive finite number, got ${String(options.timeoutMs)}`,
        );
      this.stepList.push({
        kind: "wait",
        name,
        event: options?.event as AnyEvent,
        key: options?.key as (payload: unknown) => string,
        timeoutMs: options?.timeoutMs,
        result: options?.result as ((state: unknown, payload: unknown) => unknown) | undefined,
        when: options?.when as ((state: unknown) => boolean) | undefined,
      });
      this.optionalFunction(
        `steps.${name}.result`,
        options?.result,
        "a function of the state and the event's payload",
      );
      this.optionalFunction(`steps.${name}.when`, options?.when, "a function of the state");
    }
    return this as unknown as SagaDefinition<State, Steps | Name, Sends, Adds | Event>;
  }

  /** Declares how to undo a step already declared; run in reverse order when a later step fails. */
  compensate<Command extends AnyCommand>(
    step: Steps,
    options: SagaCompensation<State, Command>,
  ): SagaDefinition<State, Steps, Sends | Command, Adds> {
    const known = this.stepList
      .flatMap((s): readonly StepDefinition[] => (s.kind === "parallel" ? [s, ...s.branches] : [s]))
      .find((s) => s.name === step);
    if (known === undefined)
      this.problem(`compensations.${String(step)}`, "names no step declared before it");
    else if (known.kind === "wait") this.problem(`compensations.${step}`, "a wait step has nothing to undo");
    else if (known.kind === "parallel")
      this.problem(`compensations.${step}`, "a parallel step is undone by its branches' compensations");
    else if (this.undo.has(step)) this.problem(`compensations.${step}`, "is declared twice");
    else if (typeof options?.send?.type !== "string" || options.send.kind !== "command")
      this.problem(`compensations.${step}.send`, "must be a command contract (defineCommand)");
    else if (Object.keys(options).some((key) => key !== "send" && key !== "payload"))
      this.unknownKeys(`compensations.${step}`, options, ["send", "payload"]);
    else if (typeof options.payload !== "function")
      this.problem(`compensations.${step}.payload`, "must be a function of the state");
    else this.undo.set(step, options as unknown as CompensationDefinition); // state type erased for the engine
    return this as unknown as SagaDefinition<State, Steps, Sends | Command, Adds>;
  }

  /** The saga deadline: past `ms` after the start, no further forward step runs; it compensates. */
  deadlineMs(ms: number): this {
    if (!(typeof ms === "number" && ms > 0 && Number.isFinite(ms)))
      this.problem("deadlineMs", `must be a positive finite number, got ${String(ms)}`);
    else if (this.deadline !== undefined)
      this.problem("deadlineMs", `is declared twice (${this.deadline}, then ${ms}): one deadline per saga`);
    else this.deadline = ms;
    return this;
  }

  /** @internal What the engine runs (the definition is not changed by running it). */
  blueprint(): SagaBlueprint {
    const problems = [...this.problems];
    if (this.startWith === undefined)
      problems.push({ path: `sagas.${this.name}.startedBy`, message: "a saga needs a start message" });
    if (this.stepList.length === 0)
      problems.push({ path: `sagas.${this.name}.steps`, message: "a saga needs at least one step" });
    return {
      name: this.name,
      advance: this.advance,
      start: this.startWith,
      steps: [...this.stepList],
      compensations: new Map(this.undo),
      deadlineMs: this.deadline,
      problems,
    };
  }

  /** Called by the builder's `.saga()`. */
  install(target: ExtensionTarget, options: SagaHostOptions): void {
    installSaga(this.blueprint(), target, options);
  }

  /** A valid name no step, parallel step or branch has yet (`pending`: branches not pushed yet). */
  private checkStepName(name: string, pending: readonly StepDefinition[] = []): boolean {
    if (typeof name !== "string" || !SAGA_NAME.test(name)) {
      this.problem(
        "steps",
        `step name ${JSON.stringify(String(name))} must be 1-100 ASCII letters, digits, '_' or '-'`,
      );
      return false;
    }
    const taken = [...this.stepList, ...pending].some(
      (s) => s.name === name || (s.kind === "parallel" && s.branches.some((b) => b.name === name)),
    );
    if (taken) {
      this.problem(`steps.${name}`, "duplicate step name");
      return false;
    }
    return true;
  }

  private problem(path: string, message: string): void {
    this.problems.push({ path: `sagas.${this.name}.${path}`, message });
  }

  /** Records each key of `options` not in `allowed`: a misspelt `timeoutMs` must not vanish. */
  /** An optional callback: absent, or a function (a value there failed at run time as a TypeError). */
  private optionalFunction(path: string, value: unknown, what: string): void {
    if (value !== undefined && typeof value !== "function")
      this.problem(path, `must be ${what}, got ${describe(value)}`);
  }

  private unknownKeys(path: string, options: unknown, allowed: readonly string[]): void {
    if (typeof options !== "object" || options === null) return;
    for (const key of Object.keys(options))
      if (!allowed.includes(key))
        this.problem(`${path}.${key}`, `unknown option (expected one of: ${allowed.join(", ")})`);
  }
}

/**
 * Starts a saga definition. `State` is the instance's state (JSON-serializable); chain `startedBy`,
 * then `step`/`waitFor`/`compensate` in order, and host it with the builder's `.saga(def, { store })`.
 */
export function defineSaga<State extends object>(name: string): SagaDefinition<State> {
  return new SagaDefinition<State>(name);
}
