/**
 * Finds the `@CatgaHandler` providers in the Nest container and registers them on a builder. Runs
 * once, at module init, when every singleton provider exists.
 */
import type { DiscoveryService, Reflector } from "@nestjs/core";
import type { IssueList } from "../checks.js";
import type { HandlerFor } from "../mediator/builder.js";
import type { AnyContract } from "../mediator/contracts.js";
import { CATGA_HANDLER_METADATA, NO_CONTRACT } from "./decorator.js";
import type { CatgaModuleBuilder } from "./options.js";

type HandlerMethod = (payload: unknown, ctx: unknown) => unknown;

/**
 * Registers every handler provider on `builder`; problems the builder cannot see (a handler that
 * is not a singleton, one without `execute`/`handle`) go to `issues`. A provider counts as a
 * handler when its token or its class carries the metadata: the token keeps a handler registered
 * when a test replaces it with `overrideProvider(Handler).useValue(...)`.
 */
export function registerHandlers(
  discovery: DiscoveryService,
  reflector: Reflector,
  builder: CatgaModuleBuilder,
  issues: IssueList,
): void {
  const seen = new Set<unknown>();
  for (const wrapper of discovery.getProviders()) {
    const contract = contractOf(reflector, wrapper.token) ?? contractOf(reflector, wrapper.metatype);
    if (contract === undefined) continue;
    const name = typeof wrapper.token === "function" ? wrapper.token.name : String(wrapper.name);
    const path = `handlers.${typeof contract?.type === "string" ? contract.type : name}`;
    if (typeof contract?.type !== "string") {
      issues.add(
        path,
        `@CatgaHandler on ${name} got ${contract === NO_CONTRACT ? "undefined" : "something that is not a contract"} (a circular import between the contract's module and this one?)`,
      );
      continue;
    }
    if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
      issues.add(
        path,
        `${name} is not a singleton (it is request- or transient-scoped, or depends on such a provider); a Catga handler must be one`,
      );
      continue;
    }
    const instance = wrapper.instance as Record<string, unknown> | null | undefined;
    if (instance === null || instance === undefined || seen.has(instance)) continue;
    seen.add(instance);
    const method = (
      typeof instance.execute === "function" ? instance.execute : instance.handle
    ) as HandlerMethod;
    if (typeof method !== "function") {
      issues.add(path, `${name} has no execute(payload, ctx) or handle(payload, ctx) method`);
      continue;
    }
    builder.handle(
      contract,
      named(name, (payload, ctx) => method.call(instance, payload, ctx)),
    );
  }
}

function contractOf(reflector: Reflector, target: unknown): AnyContract | undefined {
  if (typeof target !== "function") return undefined;
  return reflector.get<AnyContract | undefined>(CATGA_HANDLER_METADATA, target as () => unknown);
}

/** Logs, `describe()` and error details name the handler class rather than an arrow function. */
function named(name: string, handler: HandlerMethod): HandlerFor<AnyContract> {
  Object.defineProperty(handler, "name", { value: name });
  return handler as HandlerFor<AnyContract>;
}
