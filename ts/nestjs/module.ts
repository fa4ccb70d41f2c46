/**
 * `CatgaModule`: one mediator per Nest application, built from the `@CatgaHandler` providers of
 * every module and injected with `@InjectCatga()`. A global dynamic module, written without
 * decorator syntax so the library builds without `experimentalDecorators`.
 */
import { type DynamicModule, Inject, type Provider } from "@nestjs/common";
import { DiscoveryModule, DiscoveryService, Reflector } from "@nestjs/core";
import { CatgaConfigError } from "../errors.js";
import { CatgaHost } from "./host.js";
import { CATGA_MODULE_OPTIONS, type CatgaModuleAsyncOptions, type CatgaModuleOptions } from "./options.js";

/**
 * The injection token of the application's `Catga`. A registered symbol, so that the ESM and the
 * CJS build of this package (both loaded in one app) name the same provider.
 */
export const CATGA: unique symbol = Symbol.for("@catga/native/nestjs:Catga");

/**
 * Injects the application's mediator: `constructor(@InjectCatga() private readonly catga: Catga)`.
 * Narrow the type to what the class sends (`Catga<typeof PlaceOrder | typeof GetOrder>`) if you like;
 * the contracts themselves type every `send`, `query` and `publish` either way.
 */
export function InjectCatga(): PropertyDecorator & ParameterDecorator {
  return Inject(CATGA);
}

/**
 * The Nest module of Catga: `imports: [CatgaModule.forRoot({ ... })]` in the root module. Global:
 * every module can inject the mediator and declare handlers without importing it again.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: Nest identifies a module by its class
export class CatgaModule {
  /** Registers the mediator for the whole application; import it once, in the root module. */
  static forRoot(options?: CatgaModuleOptions): DynamicModule {
    return catgaModule({ provide: CATGA_MODULE_OPTIONS, useValue: options ?? {} }, []);
  }

  /** The same, with options made by a factory (`inject`ed config, a transport connected first). */
  static forRootAsync(options: CatgaModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== "function")
      throw new CatgaConfigError([
        { path: "forRootAsync.useFactory", message: "must be a function returning the module options" },
      ]);
    return catgaModule(
      { provide: CATGA_MODULE_OPTIONS, useFactory: options.useFactory, inject: [...(options.inject ?? [])] },
      options.imports ?? [],
    );
  }
}

function catgaModule(
  optionsProvider: Provider,
  imports: NonNullable<DynamicModule["imports"]>,
): DynamicModule {
  return {
    module: CatgaModule,
    global: true,
    imports: [DiscoveryModule, ...imports],
    providers: [
      optionsProvider,
      {
        provide: CatgaHost,
        useFactory: (discovery: DiscoveryService, reflector: Reflector, options: CatgaModuleOptions) =>
          new CatgaHost(discovery, reflector, options),
        inject: [DiscoveryService, Reflector, CATGA_MODULE_OPTIONS],
      },
      { provide: CATGA, useFactory: (host: CatgaHost) => host.catga, inject: [CatgaHost] },
    ],
    exports: [CATGA],
  };
}
