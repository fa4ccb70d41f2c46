/**
 * `@catga/native/nestjs`: the NestJS module — `CatgaModule.forRoot` / `forRootAsync`, handlers as
 * injectable providers (`@CatgaHandler(Contract)`), the mediator injected with `@InjectCatga()`,
 * built at module init and drained at shutdown (docs/guides/nestjs.md). Needs `@nestjs/common` and
 * `@nestjs/core` (optional peer dependencies of this package).
 *
 * @module @catga/native/nestjs
 */
export type {
  CatgaModuleAsyncOptions,
  CatgaModuleBuilder,
  CatgaModuleOptions,
  ContractHandleHandler,
  ContractHandler,
  ContractHandlerClass,
} from "../nestjs/index.js";
export {
  CATGA,
  CATGA_HANDLER_METADATA,
  CATGA_MODULE_OPTIONS,
  CatgaHandler,
  CatgaModule,
  InjectCatga,
} from "../nestjs/index.js";
