import { checkArgument, integer } from "../checks.js";
import { U32_MAX } from "./arguments.js";
import type { NativeHashRing } from "./binding.generated.js";
import { callNative } from "./errors.js";
import { native } from "./loader.js";

/** A node on a {@link HashRing}, as `nodes()` lists it. */
export interface RingNode {
  /** The id given to `addNode`. */
  readonly id: string;
  /** Its share of the keys relative to the other nodes (`addNode`'s weight). */
  readonly weight: number;
}

/**
 * Consistent-hash ring (in Rust): maps keys such as aggregate ids to nodes. Adding or removing
 * one of N nodes moves about 1/N of the keys; every process with the same nodes agrees.
 */
export class HashRing {
  readonly #ring: NativeHashRing;

  /**
   * An empty ring.
   * @param virtualNodes points per unit of weight (default 160)
   */
  constructor(virtualNodes?: number) {
    checkArgument("virtualNodes", virtualNodes, integer(0, U32_MAX));
    this.#ring = callNative(() => new (native().NativeHashRing)(virtualNodes));
  }

  /** Adds a node, or changes its weight (default 1). */
  addNode(id: string, weight?: number): this {
    checkArgument("weight", weight, integer(0, U32_MAX));
    callNative(() => this.#ring.addNode(id, weight));
    return this;
  }

  /** Removes a node; returns whether it was present. */
  removeNode(id: string): boolean {
    return callNative(() => this.#ring.removeNode(id));
  }

  /** The node that owns `key`, or undefined when the ring is empty. */
  lookup(key: string): string | undefined {
    return callNative(() => this.#ring.lookup(key)) ?? undefined;
  }

  /** Whether a node with this id is on the ring. */
  has(id: string): boolean {
    return callNative(() => this.#ring.has(id));
  }

  /** Every node on the ring with its weight. */
  nodes(): RingNode[] {
    return callNative(() => this.#ring.nodes());
  }

  /** How many nodes are on the ring. */
  get size(): number {
    return this.#ring.size;
  }
}
