export type { ContractHandleHandler, ContractHandler, ContractHandlerClass } from "./decorator.js";
export { CATGA_HANDLER_METADATA, CatgaHandler } from "./decorator.js";
export { CATGA, CatgaModule, InjectCatga } from "./module.js";
export type { CatgaModuleAsyncOptions, CatgaModuleBuilder, CatgaModuleOptions } from "./options.js";
export { CATGA_MODULE_OPTIONS } from "./options.js";
