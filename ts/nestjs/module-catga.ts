/**
 * The `Catga` that Nest injects. Providers are constructed before the module builds the mediator
 * (handlers are found only once every provider exists), so what they receive is this stand-in: it
 * forwards every call to the mediator once built, and answers CATGA_CLOSED before that and after
 * shutdown — a Result like any other failure, never a throw.
 */
import { ErrorCodes } from "../errors.js";
import type { AnyContract } from "../mediator/contracts.js";
import { type ForwardTarget, MessagingForwarder } from "../mediator/forwarding.js";
import type { Catga, PipelineDescription } from "../mediator/mediator.js";
import { type ErrResult, err } from "../mediator/result.js";
import type { Transport } from "../mediator/transport.js";

type Phase = "starting" | "running" | "closed";

export class ModuleCatga extends MessagingForwarder<AnyContract> implements Catga<AnyContract> {
  private mediator: Catga<AnyContract> | undefined;
  private phase: Phase = "starting";
  private closing: Promise<void> | undefined;

  /** The transport from the options: known before the mediator is built. */
  constructor(private readonly configuredTransport: Transport | undefined) {
    super();
  }

  /** Called once by the module when `build()` succeeded. */
  start(mediator: Catga<AnyContract>): void {
    this.mediator = mediator;
    this.phase = "running";
  }

  /** Calls go to the mediator while it runs; before `start` and after close they are refused. */
  protected forwardTo(contract: AnyContract): ForwardTarget {
    const mediator = this.mediator;
    if (mediator === undefined || this.phase === "closed") return this.refused(contract);
    return mediator;
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
