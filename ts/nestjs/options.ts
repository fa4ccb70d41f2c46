/** The options of `CatgaModule.forRoot` / `forRootAsync` and the token that carries them. */
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from "@nestjs/common";
import type { CatgaBuilder, CatgaOptions } from "../mediator/builder.js";
import type { AnyContract } from "../mediator/contracts.js";

/**
 * The builder `configure` receives. Its contracts are open (`AnyContract`): handlers found in the
 * Nest container are not known to the types, so `.saga()` and `.requires()` are checked at
 * start-up instead, where `build()` lists every missing handler.
 */
export type CatgaModuleBuilder = CatgaBuilder<AnyContract, never, AnyContract>;

/**
 * Everything `createCatga` takes (`preset`, `logger`, `publishMode`, `transport`), plus a hook for
 * the rest of the builder. The module owns the transport: it is closed (drained) when the
 * application shuts down, or when start-up fails.
 */
export interface CatgaModuleOptions extends CatgaOptions {
  /**
   * Called with the builder after the `@CatgaHandler` providers are registered and before
   * `build()`: add behaviors (`withRetry`, `withTimeout`, ...), `.remote()` contracts,
   * `.requires()`, sagas, or plain function handlers. Its return value is ignored.
   * @default none
   */
  readonly configure?: (builder: CatgaModuleBuilder) => unknown;
}

/** `CatgaModule.forRootAsync`: options made by a factory with injected dependencies. */
export interface CatgaModuleAsyncOptions {
  /** Modules that export what `inject` names (e.g. `ConfigModule`). @default none */
  readonly imports?: ModuleMetadata["imports"];
  /** Providers passed to `useFactory`, in order. @default none */
  readonly inject?: readonly (InjectionToken | OptionalFactoryDependency)[];
  /**
   * Makes the options; may be async (e.g. `transport: await natsTransport({...})`). A transport
   * it made is closed by the module, also when start-up fails.
   */
  // biome-ignore lint/suspicious/noExplicitAny: Nest passes the injected providers untyped, as its own useFactory does
  readonly useFactory: (...injected: any[]) => CatgaModuleOptions | Promise<CatgaModuleOptions>;
}

/** The injection token of the module's options (resolved `forRootAsync` options included). */
export const CATGA_MODULE_OPTIONS = Symbol("CATGA_MODULE_OPTIONS");
