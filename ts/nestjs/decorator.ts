/**
 * `@CatgaHandler(Contract)`: marks a Nest provider class as the handler of one contract. The
 * class is an ordinary injectable (constructor dependencies, any module); `CatgaModule` finds it
 * at start-up and registers its `execute` (or `handle`) method. Written without decorator syntax,
 * so the library builds without `experimentalDecorators`; users' code needs it, as all Nest code does.
 */
import { SetMetadata } from "@nestjs/common";
import type { HandlerFor } from "../mediator/builder.js";
import type { AnyContract } from "../mediator/contracts.js";

/**
 * The metadata key under which a handler class records its contract. A string, not a symbol: an
 * app that loads both the ESM and the CJS build of this package still finds every handler.
 */
export const CATGA_HANDLER_METADATA = "catga:handler";

/**
 * What a handler class of `Handled` implements: `execute(payload, ctx)` typed by the contract (the
 * payload after validation; a command or query returns its declared result, an event's return
 * value is ignored). `implements ContractHandler<typeof PlaceOrder>` checks it where it is written.
 */
export interface ContractHandler<Handled extends AnyContract> {
  // A property of function type, not a method: TypeScript checks its parameters strictly, so a
  // handler that expects a different payload is an error rather than accepted bivariantly.
  /** Handles one message; a thrown error becomes the caller's CATGA_HANDLER_FAILED (or its own code). */
  readonly execute: HandlerFor<Handled>;
}

/** The same, for classes that name their method `handle` (as mediatr-style code often does). */
export interface ContractHandleHandler<Handled extends AnyContract> {
  /** Handles one message, as {@link ContractHandler.execute} does. */
  readonly handle: HandlerFor<Handled>;
}

/** A class whose instances handle `Handled`; its constructor takes whatever Nest injects. */
export type ContractHandlerClass<Handled extends AnyContract> = abstract new (
  ...dependencies: never[]
) => ContractHandler<Handled> | ContractHandleHandler<Handled>;

/**
 * Makes the class (a provider of any module) the handler of `contract`; it must be a singleton. A class whose `execute` (or
 * `handle`) does not match the contract's payload and result does not compile. One contract per
 * class; an event may have several handler classes, a command or query exactly one.
 *
 * ```ts
 * @CatgaHandler(PlaceOrder)
 * export class PlaceOrderHandler {
 *   constructor(private readonly orders: OrdersRepository) {}
 *   execute(order: { sku: string }, ctx: HandlerContext) { ... }
 * }
 * ```
 */
export function CatgaHandler<Handled extends AnyContract>(
  contract: Handled,
): (target: ContractHandlerClass<Handled>) => void {
  // Not `@Injectable()` as well: it would reset a scope the class declares with its own
  // `@Injectable({ scope })`. Any class decorator makes TypeScript emit the constructor's
  // parameter types, which is all Nest needs to inject them.
  // An undefined contract (what a circular import hands the decorator) is recorded too, so the
  // module reports the class instead of never registering it.
  return SetMetadata(CATGA_HANDLER_METADATA, contract ?? NO_CONTRACT);
}

/** @internal What `@CatgaHandler(undefined)` records. */
export const NO_CONTRACT: object = Object.freeze({ noContract: true });
