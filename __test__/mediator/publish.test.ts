import { describe, expect, it, vi } from "vitest";
import { createCatga, defineEvent, ErrorCodes, silentLogger } from "../../ts/index.js";

const Happened = defineEvent("something.happened").payload<{ n: number }>();
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("publish", () => {
  it("resolves ok with zero handlers", async () => {
    const result = await createCatga({ logger: silentLogger }).build().publish(Happened, { n: 1 });
    expect(result.unwrap()).toEqual({ handled: 0 });
  });

  it("isolates failures: every handler runs and the caller gets an aggregate", async () => {
    const ran: string[] = [];
    const catga = createCatga({ logger: silentLogger })
      .handle(Happened, function first() {
        ran.push("first");
      })
      .handle(Happened, async function second() {
        ran.push("second");
        throw new Error("second broke");
      })
      .handle(Happened, function third() {
        ran.push("third");
        throw new Error("third broke");
      })
      .handle(Happened, async function fourth() {
        await tick();
        ran.push("fourth");
      })
      .build();
    const result = await catga.publish(Happened, { n: 1 });
    expect(ran.sort()).toEqual(["first", "fourth", "second", "third"]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(ErrorCodes.PUBLISH_FAILED);
    expect(result.error.message).toContain("2 of 4 handlers");
    expect(result.error.details).toEqual({
      handled: 2,
      failures: [
        { handler: "second", code: ErrorCodes.HANDLER_FAILED, message: "second broke", details: undefined },
        { handler: "third", code: ErrorCodes.HANDLER_FAILED, message: "third broke", details: undefined },
      ],
    });
  });

  it("refuses a misspelt per-call mode instead of running concurrently", async () => {
    const catga = createCatga({ logger: silentLogger })
      .handle(Happened, () => undefined)
      .build();
    const result = await catga.publish(Happened, { n: 1 }, { mode: "sequentail" as never });
    expect(result.ok || result.error).toMatchObject({
      code: "CATGA_INVALID_ARGUMENT",
      details: { field: "mode" },
    });
  });

  it("runs handlers concurrently by default and one after another when sequential", async () => {
    const log: string[] = [];
    const slow = async function slow() {
      log.push("slow:start");
      await tick();
      await tick();
      log.push("slow:end");
    };
    const fast = async function fast() {
      log.push("fast:start");
      log.push("fast:end");
    };
    const build = (mode?: "sequential") =>
      createCatga({ logger: silentLogger, ...(mode ? { publishMode: mode } : {}) })
        .handle(Happened, slow)
        .handle(Happened, fast)
        .build();

    await build().publish(Happened, { n: 1 });
    expect(log).toEqual(["slow:start", "fast:start", "fast:end", "slow:end"]);
    log.length = 0;
    await build("sequential").publish(Happened, { n: 1 });
    expect(log).toEqual(["slow:start", "slow:end", "fast:start", "fast:end"]);
    log.length = 0;
    await build().publish(Happened, { n: 1 }, { mode: "sequential" });
    expect(log).toEqual(["slow:start", "slow:end", "fast:start", "fast:end"]);
  });

  it("sequential mode still runs later handlers after a failure", async () => {
    const ran: string[] = [];
    const catga = createCatga({ logger: silentLogger, publishMode: "sequential" })
      .handle(Happened, () => {
        throw new Error("first fails");
      })
      .handle(Happened, () => {
        ran.push("second");
      })
      .build();
    const result = await catga.publish(Happened, { n: 1 });
    expect(ran).toEqual(["second"]);
    expect(result.ok || result.error.details).toMatchObject({ handled: 1 });
  });

  it("a circuit-breaker observer that throws stops no handler and rejects nothing", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const ran: string[] = [];
      let firstFails = true;
      const catga = createCatga({ logger: silentLogger })
        .withCircuitBreaker({
          failureThreshold: 1,
          resetTimeoutMs: 1,
          onStateChange: () => {
            throw new Error("metrics down");
          },
        })
        .handle(Happened, function first() {
          ran.push("first");
          if (firstFails) throw new Error("down");
        })
        .handle(Happened, function second() {
          ran.push("second");
        })
        .build();
      const opened = await catga.publish(Happened, { n: 1 }); // first's circuit opens
      expect(opened.ok || opened.error.code).toBe(ErrorCodes.PUBLISH_FAILED);
      await new Promise((resolve) => setTimeout(resolve, 5));
      firstFails = false;
      ran.length = 0;
      // first's circuit goes open → half-open synchronously as publish starts its handlers
      expect((await catga.publish(Happened, { n: 2 })).unwrap()).toEqual({ handled: 2 });
      expect(ran).toEqual(["first", "second"]);
    } finally {
      warn.mockRestore();
    }
  });
});
