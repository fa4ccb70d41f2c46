import { describe, expect, it } from "vitest";
import { ok } from "../../ts/mediator/result.js";
import { shardedHandler } from "../../ts/mediator/sharding.js";
import type { Transport } from "../../ts/mediator/transport.js";

describe("a custom ShardGate answering with a thenable", () => {
  it("takes the thenable's Result, as before", async () => {
    const gate = {
      run: (_t: string, _k: string, _r: boolean, work: () => unknown) => ({
        // a PromiseLike that is not a native Promise (another realm's, a library's, a Later)
        // biome-ignore lint/suspicious/noThenProperty: the test is about a gate answering with a thenable
        then: (f: (r: unknown) => unknown, g?: (e: unknown) => unknown) => Promise.resolve(work()).then(f, g),
      }),
    };
    const transport = { shards: gate } as unknown as Transport;
    const wrapped = shardedHandler(
      "t",
      (p) => (p as { key: string }).key,
      () => 42,
      transport,
    );
    const ctx = { headers: {}, messageId: "m1", signal: new AbortController().signal } as never;
    const out = await Promise.resolve().then(() => wrapped({ key: "k" }, ctx));
    expect(out).toBe(42);
    void ok;
  });
});
