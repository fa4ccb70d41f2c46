/**
 * The module's lifecycle provider: builds the mediator when the module initialises and closes it
 * when the application shuts down. `CatgaModule` is global, so Nest runs its `onModuleInit` before
 * that of any other module (providers may send from their own `onModuleInit`) and its
 * `onModuleDestroy` after theirs.
 */
import type { OnModuleDestroy, OnModuleInit } from "@nestjs/common";
import type { DiscoveryService, Reflector } from "@nestjs/core";
import { alsoExpected, func, IssueList } from "../checks.js";
import { CatgaConfigError, type ConfigIssue } from "../errors.js";
import { type CatgaOptions, createCatga } from "../mediator/builder.js";
import type { Catga } from "../mediator/mediator.js";
import { registerHandlers } from "./discovery.js";
import { ModuleCatga } from "./module-catga.js";
import type { CatgaModuleBuilder, CatgaModuleOptions } from "./options.js";

export class CatgaHost implements OnModuleInit, OnModuleDestroy {
  /** What `@InjectCatga()` injects. */
  readonly catga: ModuleCatga;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly options: CatgaModuleOptions | undefined,
  ) {
    const transport = isRecord(options) ? options.transport : undefined;
    // Something else than a transport is reported by build(); only a real one is closed.
    this.catga = new ModuleCatga(typeof transport?.close === "function" ? transport : undefined);
  }

  async onModuleInit(): Promise<void> {
    let mediator: Catga;
    try {
      mediator = this.build();
      // A transport that can tell when its subscriptions are live (NATS) is waited for, so the
      // application is reachable once `app.init()` or `listen()` resolved.
      const ready = (mediator.transport as { ready?: () => Promise<void> } | undefined)?.ready;
      if (typeof ready === "function") await ready.call(mediator.transport);
    } catch (error) {
      // Nest runs no shutdown hook after a failed start: the transport is closed here.
      await this.catga.close().catch(() => undefined);
      throw error;
    }
    this.catga.start(mediator);
  }

  async onModuleDestroy(): Promise<void> {
    await this.catga.close();
  }

  /** One `CatgaConfigError` listing every problem: the options', the handlers' and the builder's. */
  private build(): Catga {
    const issues = new IssueList();
    // Not an object (a factory that returned nothing usable): the builder reports it as `options`.
    const { configure, ...catgaOptions } = isRecord(this.options) ? this.options : {};
    const builder: CatgaModuleBuilder = createCatga(
      isRecord(this.options) || this.options === undefined ? catgaOptions : (this.options as CatgaOptions),
    );
    registerHandlers(this.discovery, this.reflector, builder, issues);
    if (configure !== undefined) {
      const problem = func(configure);
      if (problem === undefined) configure(builder);
      else issues.add("options.configure", problem);
    }
    let mediator: Catga;
    try {
      mediator = builder.build();
    } catch (error) {
      if (!(error instanceof CatgaConfigError)) throw error;
      throw new CatgaConfigError([...issues.issues, ...error.issues.map(withConfigureOption)]);
    }
    // Built but unusable: the caller closes the transport it was attached to.
    issues.throwIfAny();
    return mediator;
  }
}

/** The builder lists createCatga's options for a misspelt one; forRoot also takes `configure`. */
function withConfigureOption(issue: ConfigIssue): ConfigIssue {
  return /^options\.[^.[]+$/.test(issue.path) ? alsoExpected(issue, ["configure"]) : issue;
}

function isRecord(value: unknown): value is CatgaModuleOptions {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
