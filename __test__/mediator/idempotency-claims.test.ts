import { describe, expect, it } from "vitest";
import {
  CatgaConfigError,
  type ClaimingIdempotencyStore,
  type ClaimResult,
  createCatga,
  defineCommand,
  ErrorCodes,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  type Logger,
  silentLogger,
} from "../../ts/index.js";

// Two mediators stand for two processes: each has its own idempotency behavior (its own
// in-process sharing), and they meet only in the store. Process- and server-level races are in
// __test__/persistence/inbox-claim-race.test.ts.
const Work = defineCommand("claims.work").payload<{ id: number }>().returns<{ by: string; run: number }>();

function pair(
  store: IdempotencyStore,
  handler: (by: string) => Promise<{ by: string; run: number }>,
  options: { leaseMs?: number } = {},
) {
  return ["a", "b"].map((by) =>
    createCatga({ logger: silentLogger })
      .withIdempotency({ store, ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }) })
      .handle(Work, () => handler(by))
      .build(),
  );
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("idempotency claims between mediators sharing a store", () => {
  it("runs the handler once for concurrent duplicates, and both get the winner's outcome (100 trials)", async () => {
    const store = new InMemoryIdempotencyStore();
    let runs = 0;
    const [a, b] = pair(store, async (by) => {
      const run = ++runs;
      await delay(5);
      return { by, run };
    });
    for (let trial = 0; trial < 100; trial++) {
      const messageId = `same-${trial}`;
      const gap = trial % 2 === 0 ? 0 : 5 + (trial % 41); // at once, or 5–45 ms apart
      const first = a!.send(Work, { id: trial }, { messageId });
      const second = delay(gap).then(() => b!.send(Work, { id: trial }, { messageId }));
      const [x, y] = await Promise.all([first, second]);
      expect(x.unwrap()).toEqual(y.unwrap());
      expect(runs).toBe(trial + 1);
    }
  });

  it("keeps the claim while a handler runs longer than the lease: the duplicate still waits", async () => {
    const store = new InMemoryIdempotencyStore();
    let runs = 0;
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const [a, b] = pair(
      store,
      async (by) => {
        const run = ++runs;
        started();
        await delay(1_200); // four leases of 300 ms: only extensions keep the claim
        return { by, run };
      },
      { leaseMs: 300 },
    );
    const first = a!.send(Work, { id: 1 }, { messageId: "slow" });
    await running;
    const second = await b!.send(Work, { id: 1 }, { messageId: "slow" });
    expect(second.unwrap()).toEqual({ by: "a", run: 1 });
    expect((await first).unwrap()).toEqual({ by: "a", run: 1 });
    expect(runs).toBe(1);
  });

  it("releases the claim when the handler fails: a waiting duplicate then runs it itself", async () => {
    const store = new InMemoryIdempotencyStore();
    let runs = 0;
    const [a, b] = pair(store, async (by) => {
      const run = ++runs;
      await delay(30);
      if (by === "a") throw new Error("a fails");
      return { by, run };
    });
    const first = a!.send(Work, { id: 1 }, { messageId: "fails" });
    await delay(5);
    const second = b!.send(Work, { id: 1 }, { messageId: "fails" });
    expect((await first).ok).toBe(false);
    expect((await second).unwrap()).toEqual({ by: "b", run: 2 });
  });

  it("a waiter is bounded by its caller's signal (a deadline or a cancel): CATGA_ABORTED", async () => {
    const store = new InMemoryIdempotencyStore();
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const [a, b] = pair(store, async (by) => {
      await hold;
      return { by, run: 1 };
    });
    const first = a!.send(Work, { id: 1 }, { messageId: "held" });
    await delay(5);
    const timedOut = await b!.send(Work, { id: 1 }, { messageId: "held", signal: AbortSignal.timeout(300) });
    expect(timedOut.ok || timedOut.error.code).toBe(ErrorCodes.ABORTED);
    const controller = new AbortController();
    const cancelled = b!.send(Work, { id: 1 }, { messageId: "held", signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const cancelledResult = await cancelled;
    expect(cancelledResult.ok || cancelledResult.error.code).toBe(ErrorCodes.ABORTED);
    release();
    expect((await first).unwrap()).toEqual({ by: "a", run: 1 });
    // The outcome is stored: b now replays it.
    expect((await b!.send(Work, { id: 1 }, { messageId: "held" })).unwrap()).toEqual({ by: "a", run: 1 });
  });

  it("turns a failing or nonsensical claim into CATGA_STORE_FAILED without running the handler", async () => {
    let runs = 0;
    const base = { get: () => undefined, set: () => {}, extend: () => true, release: () => {} };
    for (const claim of [
      () => {
        throw new Error("store down");
      },
      () => ({ status: "maybe" }) as unknown as ClaimResult,
    ]) {
      const store: ClaimingIdempotencyStore = { ...base, claim };
      const catga = createCatga({ logger: silentLogger })
        .withIdempotency({ store })
        .handle(Work, () => ({ by: "x", run: ++runs }))
        .build();
      const result = await catga.send(Work, { id: 1 }, { messageId: "m" });
      expect(result.ok || result.error.code).toBe(ErrorCodes.STORE_FAILED);
    }
    expect(runs).toBe(0);
  });

  it("logs a lost claim and still returns the handler's outcome", async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    const store = {
      get: () => undefined,
      set: () => {},
      claim: (): ClaimResult => ({ status: "claimed" }),
      extend: () => false,
      release: () => {},
    };
    const catga = createCatga({ logger })
      .withIdempotency({ store, leaseMs: 300 })
      .handle(Work, async () => {
        await delay(250); // past the first extension at 100 ms
        return { by: "x", run: 1 };
      })
      .build();
    expect((await catga.send(Work, { id: 1 }, { messageId: "m" })).unwrap()).toEqual({ by: "x", run: 1 });
    expect(warnings).toEqual(["idempotency claim lost: another process may run this message too"]);
  });

  it("an extension still in flight when the run completes is not reported as a lost claim", async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    let extending = 0;
    let answered = false;
    const store: ClaimingIdempotencyStore = {
      get: () => undefined,
      set: () => {},
      claim: () => ({ status: "claimed" }),
      // Answers after the run has stored its outcome, which completed the claim.
      extend: () => {
        extending++;
        return delay(300).then(() => {
          answered = true;
          return false;
        });
      },
      release: () => {},
    };
    const catga = createCatga({ logger })
      .withIdempotency({ store, leaseMs: 300 })
      .handle(Work, async () => {
        await delay(150); // the first extension starts at 100 ms
        return { by: "x", run: 1 };
      })
      .build();
    expect((await catga.send(Work, { id: 1 }, { messageId: "m" })).ok).toBe(true);
    while (!answered) await delay(10);
    await delay(0); // the behavior's continuation after the answer
    expect(extending).toBe(1);
    expect(warnings).toEqual([]);
  });

  it("a store without claims is not a lock: concurrent duplicates in two mediators both run", async () => {
    const data = new Map<string, { value: unknown }>();
    const store = {
      get: async (key: string) => data.get(key),
      set: async (key: string, outcome: { value: unknown }) => {
        data.set(key, outcome);
      },
    };
    let runs = 0;
    const [a, b] = pair(store, async (by) => {
      const run = ++runs;
      await delay(20);
      return { by, run };
    });
    await Promise.all([
      a!.send(Work, { id: 1 }, { messageId: "m" }),
      b!.send(Work, { id: 1 }, { messageId: "m" }),
    ]);
    expect(runs).toBe(2);
  });

  it("checks leaseMs and a store with only part of the claim API", () => {
    let error: unknown;
    try {
      createCatga({ logger: silentLogger })
        .withIdempotency({
          store: {
            get: () => undefined,
            set: () => {},
            claim: () => ({ status: "held" }),
          } as IdempotencyStore,
          leaseMs: 10,
        })
        .handle(Work, () => ({ by: "x", run: 1 }))
        .build();
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(CatgaConfigError);
    const config = error as CatgaConfigError;
    expect(config.code).toBe(ErrorCodes.CONFIG);
    expect(config.issues).toEqual([
      { path: "idempotency.leaseMs", message: "must be an integer in [300, 2147483647], got 10" },
      {
        path: "idempotency.store",
        message: "has claim but not extend and release: give it all three, or none",
      },
    ]);
  });
});
