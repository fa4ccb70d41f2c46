import { describe, expect, it, vi } from "vitest";
import {
  CatgaConfigError,
  createCatga,
  defineBehavior,
  defineCommand,
  defineEvent,
  defineQuery,
  ErrorCodes,
  silentLogger,
} from "../../ts/index.js";

const Place = defineCommand("orders.place").payload<{ sku: string }>().returns<string>();
const Cancel = defineCommand("orders.cancel").payload<{ id: string }>();
const Get = defineQuery("orders.get").payload<{ id: string }>().returns<string>();
const Placed = defineEvent("orders.placed").payload<{ sku: string }>();

function configError(fn: () => unknown): CatgaConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CatgaConfigError);
    return error as CatgaConfigError;
  }
  throw new Error("expected a CatgaConfigError");
}

describe("configuration errors", () => {
  it("lists every bad option with its reason in one error", () => {
    const error = configError(() =>
      createCatga({ logger: silentLogger, publishMode: "parallel" as "concurrent" })
        .withRetry({
          maxAttempts: 0,
          baseDelayMs: -5,
          jitter: "some" as "full",
          retryOn: "CATGA_TIMEOUT" as never,
        })
        .withCircuitBreaker({ failureThreshold: 1.5, resetTimeoutMs: 0 })
        .withRateLimiting({ capacity: 0, refillPerSecond: Number.NaN, scope: "user" as "global" })
        .withTimeout({ ms: -1, perType: { "orders.place": 0 } })
        .withIdempotency({ ttlMs: 0, maxEntries: 0 })
        .withLogging({ successLevel: "trace" as "debug", typo: true } as never)
        .handle(Place, () => "x")
        .build(),
    );
    expect(error.code).toBe(ErrorCodes.CONFIG);
    expect(error.issues.map((i) => i.path)).toEqual([
      "options.publishMode",
      "retry.maxAttempts",
      "retry.baseDelayMs",
      "retry.jitter",
      "retry.retryOn",
      "circuitBreaker.failureThreshold",
      "circuitBreaker.resetTimeoutMs",
      "rateLimit.capacity",
      "rateLimit.refillPerSecond",
      "rateLimit.scope",
      "timeout.ms",
      "timeout.perType",
      "idempotency.ttlMs",
      "idempotency.maxEntries",
      "logging.successLevel",
      "logging.typo",
    ]);
    expect(error.issues.find((i) => i.path === "retry.maxAttempts")!.message).toBe(
      "must be an integer in [1, 100], got 0",
    );
    expect(error.issues.find((i) => i.path === "logging.typo")!.message).toMatch(/^unknown option/);
    expect(error.message).toContain("retry.jitter");
    // A misspelt Catga code would silently turn retries off; domain codes are the user's own.
    const typo = configError(() =>
      createCatga({ logger: silentLogger })
        .withRetry({ retryOn: ["ORDERS_BUSY", "CATGA_TIMEOT"] })
        .handle(Place, () => "x")
        .build(),
    );
    expect(typo.issues).toEqual([
      { path: "retry.retryOn", message: 'names "CATGA_TIMEOT", which is no Catga code (see ErrorCodes)' },
    ]);
  });

  it("rejects a non-object options value and an inconsistent range", () => {
    const error = configError(() =>
      createCatga({ logger: silentLogger })
        .withRetry({ baseDelayMs: 500, maxDelayMs: 100 })
        .withTimeout(42 as never)
        .build(),
    );
    expect(error.issues).toEqual([
      { path: "retry.maxDelayMs", message: "must be >= retry.baseDelayMs (500), got 100" },
      { path: "timeout", message: "must be an object, got 42" },
    ]);
  });

  it("validates custom behaviors", () => {
    const error = configError(() =>
      createCatga({ logger: silentLogger })
        .use(defineBehavior({ name: "audit", priority: Number.NaN, create: () => undefined }))
        .use({ name: "", priority: 1, create: () => undefined })
        .build(),
    );
    expect(error.issues.map((i) => i.path)).toEqual(["behaviors.audit.priority", "behaviors"]);
    // A create() that throws is a configuration mistake too, named (it escaped build() raw).
    const broken = configError(() =>
      createCatga({ logger: silentLogger })
        .use(
          defineBehavior({
            name: "broken",
            priority: 1,
            create: () => {
              throw new Error("no audit sink");
            },
          }),
        )
        .handle(Place, () => "x")
        .build(),
    );
    expect(broken.issues).toEqual([
      { path: "behaviors.broken", message: "create() threw for command orders.place: no audit sink" },
    ]);
  });
});

describe("limits and cross-checks", () => {
  it("rejects delays longer than setTimeout can wait (2^31 - 1 ms)", () => {
    const error = configError(() =>
      createCatga({ logger: silentLogger })
        .withRetry({ baseDelayMs: 3e9, maxDelayMs: 3e9 })
        .withTimeout({ ms: 3e9, perType: { "orders.place": 3e9 } })
        .handle(Place, () => "x")
        .build(),
    );
    expect(error.issues.map((i) => i.path)).toEqual([
      "retry.baseDelayMs",
      "retry.maxDelayMs",
      "timeout.ms",
      "timeout.perType",
    ]);
    expect(error.issues[2]!.message).toBe("must be a finite number >= 1 and <= 2147483647, got 3000000000");
    // Under 1 ms is no budget (as for perType).
    expect(
      configError(() => createCatga({ logger: silentLogger }).withTimeout({ ms: 0.5 }).build()).issues.map(
        (i) => i.path,
      ),
    ).toEqual(["timeout.ms"]);
    // The limit itself is fine.
    createCatga({ logger: silentLogger })
      .withRetry({ baseDelayMs: 2_147_483_647, maxDelayMs: 2_147_483_647 })
      .withTimeout({ ms: 2_147_483_647 })
      .handle(Place, () => "x")
      .build();
  });

  it("rejects a timeout.perType key that names no handled or remote type", () => {
    const error = configError(() =>
      createCatga({ logger: silentLogger })
        .withTimeout({ ms: 10, perType: { "orders.plcae": 60_000, "orders.get": 100 } })
        .handle(Place, () => "x")
        .handle(Get, () => "y")
        .build(),
    );
    expect(error.issues).toEqual([
      { path: "timeout.perType.orders.plcae", message: "no handler or remote contract has this type" },
    ]);
  });

  it("compares retry.baseDelayMs with the cap in effect, the default one included", () => {
    const error = configError(() =>
      createCatga({ logger: silentLogger }).withRetry({ baseDelayMs: 5_000 }).build(),
    );
    expect(error.issues).toEqual([
      {
        path: "retry.baseDelayMs",
        message: "must be <= retry.maxDelayMs (default 2000; raise it too), got 5000",
      },
    ]);
    createCatga({ logger: silentLogger }).withRetry({ baseDelayMs: 5_000, maxDelayMs: 5_000 }).build();
  });

  it("with* setters reject undefined instead of keeping the default", () => {
    const error = configError(() =>
      createCatga()
        .withLogger(undefined as never)
        .withPublishMode(undefined as never)
        .withTransport(undefined as never)
        .build(),
    );
    expect(error.issues).toEqual([
      { path: "options.logger", message: "is required, got undefined" },
      { path: "options.publishMode", message: "is required, got undefined" },
      { path: "options.transport", message: "is required, got undefined" },
    ]);
  });
});

describe("handler registration checked at build", () => {
  it("lists missing and duplicate handlers together", () => {
    const builder = createCatga({ logger: silentLogger })
      .requires(Place, Cancel, Get)
      .handle(Place, () => "a")
      .handle(Place, () => "b")
      .handle(Placed, () => {})
      .handle(Placed, () => {});
    // @ts-expect-error Cancel and Get have no handler, so build() does not type-check
    const error = configError(() => builder.build());
    expect(error.issues).toEqual([
      {
        path: "handlers.orders.cancel",
        message: "no handler registered for required command (CATGA_NO_HANDLER)",
      },
      { path: "handlers.orders.get", message: "no handler registered for required query (CATGA_NO_HANDLER)" },
      {
        path: "handlers.orders.place",
        message: "2 handlers registered for command; it must have exactly one (CATGA_DUPLICATE_HANDLER)",
      },
    ]);
  });

  it("rejects one type used by two kinds of contract, and non-function handlers", () => {
    const Clash = defineQuery("orders.place").payload<{ sku: string }>().returns<string>();
    const error = configError(() =>
      createCatga({ logger: silentLogger })
        .handle(Place, () => "a")
        .handle(Clash, () => "b")
        .handle(Cancel, "not a function" as never)
        .build(),
    );
    expect(error.issues.map((i) => i.message)).toEqual([
      "handler must be a function",
      "type is used by both a command and a query contract",
    ]);
  });

  it("builds when every required contract is handled", async () => {
    const catga = createCatga({ logger: silentLogger })
      .requires(Place, Get)
      .handle(Place, ({ sku }) => sku)
      .handle(Get, ({ id }) => id)
      .build();
    expect((await catga.send(Place, { sku: "s" })).unwrap()).toBe("s");
  });
});

describe("contracts", () => {
  it("rejects an empty type and a non-Standard-Schema schema with CATGA_INVALID_ARGUMENT", () => {
    expect(() => defineCommand("")).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => defineEvent("x", { parse: () => 1 } as never)).toThrow(
      expect.objectContaining({
        code: ErrorCodes.INVALID_ARGUMENT,
        message: expect.stringMatching(/Standard Schema/),
      }),
    );
  });

  it("accepts only names that make one literal NATS subject token path", () => {
    for (const good of ["orders.place", "a", "Orders_v2.place-now", "x".repeat(200)])
      expect(defineCommand(good).type).toBe(good);
    for (const bad of [
      "orders.*",
      "*",
      ">",
      "orders.>",
      "a b",
      "a\tb",
      "a\nb",
      ".a",
      "a.",
      "a..b",
      "ü",
      "x".repeat(201),
    ]) {
      expect(() => defineCommand(bad), bad).toThrow(
        expect.objectContaining({
          code: ErrorCodes.INVALID_ARGUMENT,
          details: expect.objectContaining({ field: "type" }),
        }),
      );
    }
  });

  it("feeds 5,000 random strings to define* and build(): a contract or a coded error, nothing else", () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const alphabet = "ab.*> \t\n_-Z9ü$";
    for (let i = 0; i < 5000; i++) {
      const name = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join("");
      let contract: ReturnType<typeof defineEvent> | undefined;
      try {
        contract = defineEvent(name);
      } catch (error) {
        expect((error as { code?: string }).code, JSON.stringify(name)).toBe(ErrorCodes.INVALID_ARGUMENT);
      }
      // A hand-made contract with the same name: build() checks it too.
      const forged = { kind: "event", type: name } as unknown as ReturnType<typeof defineEvent>;
      try {
        createCatga({ logger: silentLogger })
          .handle(contract ?? forged, () => undefined)
          .build();
        expect(contract, JSON.stringify(name)).toBeDefined();
      } catch (error) {
        expect((error as { code?: string }).code, JSON.stringify(name)).toBe(ErrorCodes.CONFIG);
        expect(contract, JSON.stringify(name)).toBeUndefined();
      }
    }
  });

  it("tokens are frozen and describe themselves", () => {
    expect(Object.isFrozen(Place)).toBe(true);
    expect(String(Place)).toBe("command:orders.place");
    expect(Place.kind).toBe("command");
    expect(Place.schema).toBeUndefined();
  });
});

describe("presets", () => {
  it("compose the documented behaviors", () => {
    const steps = (preset: "development" | "production" | "highPerformance") =>
      createCatga({ preset, logger: silentLogger })
        .handle(Place, () => "x")
        .build()
        .describe()[0]!.steps;
    expect(steps("development")).toEqual(["logging", "timeout", "handler"]);
    expect(steps("production")).toEqual(["logging", "retry", "circuitBreaker", "timeout", "handler"]);
    expect(steps("highPerformance")).toEqual(["handler"]);
  });

  it("rejects an unknown preset name", () => {
    const error = configError(() => createCatga({ preset: "turbo" as "production" }).build());
    expect(error.issues[0]!.path).toBe("options.preset");
  });
});

describe("builder setters and the console logger", () => {
  it("validate what they are given", () => {
    const error = configError(() =>
      createCatga()
        .withLogger({ info: () => {} } as never)
        .withTransport({ name: "half" } as never)
        .withPublishMode("burst" as "concurrent")
        .build(),
    );
    expect(error.issues.map((i) => i.path)).toEqual([
      "options.logger",
      "options.transport",
      "options.publishMode",
    ]);
  });

  it("consoleLogger drops levels below its threshold and prints fields as key=value", async () => {
    const { consoleLogger } = await import("../../ts/index.js");
    const lines: string[] = [];
    const sink = (text: string) => lines.push(text);
    const spies = (["debug", "info", "warn", "error"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation(sink),
    );
    try {
      const logger = consoleLogger({ level: "warn" });
      logger.debug("hidden");
      logger.info("hidden");
      logger.warn("careful", { code: "X", n: 2, skipped: undefined });
      logger.error("broken");
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(lines).toEqual(["warn careful code=X n=2", "error broken"]);
  });
});

describe("contracts that are not contracts (found by a reviewer)", () => {
  it("define* and build() answer coded errors for values without a usable type, never a TypeError", () => {
    expect(() => defineCommand(Object.create(null) as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }),
    );
    const Place = defineCommand("orders.place");
    for (const odd of [undefined, null, Object.create(null), { type: Object.create(null) }, { type: 7 }]) {
      expect(() =>
        createCatga({ logger: silentLogger })
          .handle(Place, () => undefined)
          .requires(odd as never)
          .build(),
      ).toThrow(CatgaConfigError);
      expect(() =>
        createCatga({ logger: silentLogger })
          .remote(odd as never)
          .build(),
      ).toThrow(CatgaConfigError);
    }
  });
});
