/**
 * What the builder offers a workflow registered with `.saga()` (ts/saga/): it adds handlers, reports
 * configuration issues into the builder's one `CatgaConfigError`, and receives the built mediator.
 * Kept structural so the mediator layer never imports the saga layer above it.
 */
import type { AnyContract } from "./contracts.js";
import type { Logger } from "./logger.js";
import type { Catga } from "./mediator.js";
import type { Handler } from "./pipeline.js";

/** The builder as seen by an extension while it installs. */
export interface ExtensionTarget {
  /** Registers a handler, as `.handle()` does. */
  handle(contract: AnyContract, handler: Handler): void;
  /**
   * Registers a handler that runs without the builder's behaviors: for an internal driver whose
   * work is the sends it makes (each of those runs through the behaviors), and which a timeout or
   * a retry around it would cut or repeat.
   */
  handlePlain(contract: AnyContract, handler: Handler): void;
  /** Adds a configuration issue, reported by `build()`. */
  issue(path: string, message: string): void;
  /** Called with the mediator once `build()` succeeded. */
  onBuilt(callback: (catga: Catga<AnyContract>) => void): void;
  /** The builder's logger as set when `build()` runs. */
  logger(): Logger;
}

/**
 * Something `.saga()` installs: `sends` are the contracts it sends (checked against what the builder
 * handles or declares remote), `adds` the contracts it handles itself.
 */
export interface Installable<Sends extends AnyContract, Adds extends AnyContract, Options> {
  /** Contracts it sends: each must be handled by the builder or declared `.remote()`. */
  readonly sends: readonly Sends[];
  /** Contracts it handles once installed. */
  readonly adds: readonly Adds[];
  /** Registers its handlers on the builder and checks `options`. */
  install(target: ExtensionTarget, options: Options): void;
}
