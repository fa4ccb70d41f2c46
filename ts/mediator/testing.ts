import { describe, IssueList } from "../checks.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { type BuilderState, buildMediator, type CatgaBuilder, type HandlerFor } from "./builder.js";
import { VirtualClock } from "./clock.js";
import type { MessageMeta } from "./context.js";
import type { AnyContract, ContractKind, InputOf } from "./contracts.js";
import { type ForwardTarget, MessagingForwarder } from "./forwarding.js";
import { silentLogger } from "./logger.js";
import type { Catga, Mediator, PipelineDescription } from "./mediator.js";
import type { Handler } from "./pipeline.js";
import type { Transport } from "./transport.js";

/** One message that went through the mediator, with its ids, in dispatch order. */
export interface RecordedMessage extends MessageMeta {
  readonly payload: unknown;
}

/**
 * A mediator for tests: records every command, query and event (including those sent from
 * inside handlers) and lets a test replace or add handlers with `stub`.
 */
export class TestCatga<Handled extends AnyContract = never>
  extends MessagingForwarder<Handled>
  implements Catga<Handled>
{
  /** Everything dispatched, in order. */
  readonly messages: RecordedMessage[] = [];
  private readonly base: BuilderState;
  private readonly stubs = new Map<string, { contract: AnyContract; handler: Handler }>();
  private mediator: Mediator | undefined;
  private clock: VirtualClock | undefined;

  /** @internal made by `createTestCatga`, which takes a builder */
  constructor(base: BuilderState) {
    super();
    this.base = base;
  }

  /** The commands recorded, in order. */
  get sent(): RecordedMessage[] {
    return this.messages.filter((m) => m.kind === "command");
  }

  /** The queries recorded, in order. */
  get queried(): RecordedMessage[] {
    return this.messages.filter((m) => m.kind === "query");
  }

  /** The events recorded, in order. */
  get published(): RecordedMessage[] {
    return this.messages.filter((m) => m.kind === "event");
  }

  /** Payloads recorded for one contract, typed by it. */
  payloadsOf<C extends AnyContract>(contract: C): InputOf<C>[] {
    contractArgument("payloadsOf", contract);
    return this.messages.filter((m) => m.type === contract.type).map((m) => m.payload as InputOf<C>);
  }

  /** Replaces every handler of the contract's type (or adds one). Takes effect on the next call. */
  stub<C extends AnyContract>(contract: C, handler: HandlerFor<C>): TestCatga<Handled | C> {
    contractArgument("stub", contract);
    if (typeof handler !== "function")
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `stub(${contract.type}): handler must be a function, got ${describe(handler)}`,
        { details: { field: "handler" } },
      );
    this.stubs.set(contract.type, { contract, handler: handler as Handler });
    this.mediator = undefined;
    return this as unknown as TestCatga<Handled | C>;
  }

  /**
   * Runs the hosted sagas on a virtual clock from now on: their wait timeouts, deadlines, step
   * timeouts and compensation backoffs happen only when the test calls `advance(ms)` on it.
   * @param startMs the clock's first reading (epoch ms). @default Date.now()
   */
  useVirtualClock(startMs?: number): VirtualClock {
    this.clock = new VirtualClock(startMs);
    this.mediator = undefined;
    return this.clock;
  }

  /** Forgets recorded messages (stubs stay). */
  reset(): void {
    this.messages.length = 0;
  }

  /** @internal every call goes to the current build (made anew after `stub` or a new clock) */
  protected forwardTo(): ForwardTarget {
    return this.current();
  }

  get transport(): Transport | undefined {
    return this.base.transport;
  }

  describe(): PipelineDescription[] {
    return this.current().describe();
  }

  async close(): Promise<void> {
    await this.mediator?.close();
  }

  private current(): Mediator {
    if (this.mediator !== undefined) return this.mediator;
    const registrations = this.base.registrations.filter((r) => !this.stubs.has(r.contract.type));
    for (const stub of this.stubs.values()) registrations.push(stub);
    // A stub of a `.remote()` contract handles it here instead: it is no longer remote.
    const remotes = this.base.remotes.filter((c) => !this.stubs.has(c.type));
    const state: BuilderState = {
      ...this.base,
      registrations,
      remotes,
      ...(this.clock === undefined ? {} : { clock: this.clock }),
    };
    this.mediator = buildMediator(state, ({ kind, type, payload, context }) => {
      this.messages.push({ ...context.toJSON(), kind: kind as ContractKind, type, payload });
    });
    return this.mediator;
  }
}

/**
 * Wraps a builder (its handlers and behaviors) for tests, or starts empty with a silent logger.
 * Configuration errors surface on the first call, as `build()` would raise them.
 */
export function createTestCatga<
  Handled extends AnyContract = never,
  // Required and locally handled contracts do not matter here: stubs may supply them.
  Required extends AnyContract = never,
  HandledHere extends AnyContract = never,
>(builder?: CatgaBuilder<Handled, Required, HandledHere>): TestCatga<Handled> {
  // A built mediator is the likely mistake from JS: it has no builder state to rebuild with stubs.
  if (builder !== undefined && typeof (builder as { state?: unknown } | null)?.state !== "function")
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `createTestCatga: builder must be the builder from createCatga() (before build()), got ${describe(builder)}`,
      { details: { field: "builder" } },
    );
  const base: BuilderState = builder?.state() ?? {
    issues: new IssueList(),
    registrations: [],
    behaviors: [],
    required: [],
    remotes: [],
    logger: silentLogger,
    publishMode: "concurrent",
    transport: undefined,
  };
  return new TestCatga<Handled>(base);
}

/** A contract argument from a JS caller (a circular import gives undefined): refused by name. */
function contractArgument(method: string, contract: unknown): void {
  if (typeof (contract as { type?: unknown } | null | undefined)?.type !== "string")
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${method}: contract must be a contract from defineCommand/defineQuery/defineEvent, got ${describe(contract)}`,
      { details: { field: "contract" } },
    );
}
