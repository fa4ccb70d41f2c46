import type { StreamOptions } from "../jetstream/options.js";

/**
 * What a stream's companions (dead letters, Results) share with it: how many servers keep a copy
 * and on what storage. Not its limits: dead letters are kept until an operator acts on them.
 */
export function durabilityOf(settings: Partial<StreamOptions>): Pick<StreamOptions, "replicas" | "storage"> {
  return {
    ...(settings.replicas === undefined ? {} : { replicas: settings.replicas }),
    ...(settings.storage === undefined ? {} : { storage: settings.storage }),
  };
}
