/**
 * The `Catga` that Nest injects. Providers are constructed before the module builds the mediator
 * (handlers are found only once every provider exists), so what they receive is this stand-in: it
 * forwards every call to the mediator once built, and answers CATGA_CLOSED before that and after
 * shutdown — a Result like any other failure, never a throw.
 */
import { ErrorCodes } from "../errors.js";
import type {
  AcceptedSendOptions,
  DurableSendOptions,
  PublishOptions,
  PublishReport,
  ResultSendOptions,
  SendOptions,
} from "../mediator/context.js";
import type {
  Accepted,
  AnyCommand,
  AnyContract,
  AnyEvent,
  AnyQuery,
  DurableCommand,
  InputOf,
  RequestCommand,
  ResultOf,
} from "../mediator/contracts.js";
import type { Catga, PipelineDescription } from "../mediator/mediator.js";
import { type ErrResult, err, type Result } from "../mediator/result.js";
import type { Scheduled, SchedulePublishOptions, ScheduleSendOptions } from "../mediator/schedule.js";
import type { Transport } from "../mediator/transport.js";

type Phase = "starting" | "running" | "closed";

export class ModuleCatga implements Catga<AnyContract> {
  private mediator: Catga<AnyContract> | undefined;
  private phase: Phase = "starting";
  private closing: Promise<void> | undefined;

  /** The transport from the options: known before the mediator is built. */
  constructor(private readonly configuredTransport: Transport | undefined) {}

  /** Called once by the module when `build()` succeeded. */
  start(mediator: Catga<AnyContract>): void {
    this.mediator = mediator;
    this.phase = "running";
  }

  send<C extends DurableCommand>(
    contract: C,
    payload: InputOf<C>,
    options: ScheduleSendOptions,
  ): Promise<Result<Scheduled>>;
  send<C extends DurableCommand>(
    contract: C,
    payload: InputOf<C>,
    options: ResultSendOptions,
  ): Promise<Result<ResultOf<C>>>;
  send<C extends DurableCommand>(
    contract: C,
    payload: InputOf<C>,
    options?: AcceptedSendOptions,
  ): Promise<Result<Accepted>>;
  send<C extends RequestCommand>(
    contract: C,
    payload: InputOf<C>,
    options?: SendOptions,
  ): Promise<Result<ResultOf<C>>>;
  send(
    contract: AnyCommand,
    payload: unknown,
    options?: SendOptions | DurableSendOptions | ScheduleSendOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the overloads above type the result per contract
  ): Promise<Result<any>> {
    const mediator = this.mediator;
    if (mediator === undefined || this.phase === "closed") return this.refused(contract);
    // biome-ignore lint/suspicious/noExplicitAny: forwarded to the same overloads
    return mediator.send(contract as any, payload, options as any);
  }

  query<C extends AnyQuery>(
    contract: C,
    payload: InputOf<C>,
    options?: SendOptions,
  ): Promise<Result<ResultOf<C>>> {
    const mediator = this.mediator;
    if (mediator === undefined || this.phase === "closed") return this.refused(contract);
    return mediator.query(contract, payload, options);
  }

  publish<C extends AnyEvent>(
    contract: C,
    payload: InputOf<C>,
    options: SchedulePublishOptions,
  ): Promise<Result<Scheduled>>;
  publish<C extends AnyEvent>(
    contract: C,
    payload: InputOf<C>,
    options?: PublishOptions,
  ): Promise<Result<PublishReport>>;
  publish(
    contract: AnyEvent,
    payload: unknown,
    options?: PublishOptions | SchedulePublishOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the overloads above type the result per options
  ): Promise<Result<any>> {
    const mediator = this.mediator;
    if (mediator === undefined || this.phase === "closed") return this.refused(contract);
    // biome-ignore lint/suspicious/noExplicitAny: forwarded to the same overloads
    return mediator.publish(contract, payload as never, options as any);
  }

  get transport(): Transport | undefined {
    return this.configuredTransport;
  }

  describe(): PipelineDescription[] {
    return this.mediator?.describe() ?? [];
  }

  /**
   * Closes the mediator (which drains its transport: messages already received are handled and
   * their replies sent), then refuses new calls. The module calls it on shutdown; idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await (this.mediator ?? this.configuredTransport)?.close();
      } finally {
        this.phase = "closed";
      }
    })();
    return this.closing;
  }

  private refused(contract: AnyContract): Promise<ErrResult> {
    const why =
      this.phase === "closed"
        ? "the application has shut down"
        : "the CatgaModule has not started yet: send from onModuleInit or later, not from a constructor";
    return Promise.resolve(err(ErrorCodes.CLOSED, `${contract?.kind} "${contract?.type}" refused: ${why}`));
  }
}
