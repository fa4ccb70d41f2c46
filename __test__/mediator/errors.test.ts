import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CatgaConfigError,
  CatgaError,
  createCatga,
  defineCommand,
  ErrorCodes,
  hasErrorCode,
  silentLogger,
} from "../../ts/index.js";

describe("error codes", () => {
  it("are unique, CATGA_-prefixed, and each is documented in docs/architecture/errors.md", () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    const docs = readFileSync(new URL("../../docs/architecture/errors.md", import.meta.url), "utf8");
    for (const code of codes) {
      expect(code).toMatch(/^CATGA_[A-Z_]+$/);
      expect(docs, `${code} missing from docs/architecture/errors.md`).toContain(`| \`${code}\` |`);
    }
  });

  it("hasErrorCode matches thrown errors and Result errors by code only", async () => {
    const Reserve = defineCommand("stock.reserve").payload<{ sku: string }>();
    const catga = createCatga({ logger: silentLogger })
      .handle(Reserve, ({ sku }) => {
        throw new CatgaError("STOCK_OUT", `no ${sku}`, { details: { sku } });
      })
      .build();
    const result = await catga.send(Reserve, { sku: "a" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(hasErrorCode(result.error, "STOCK_OUT")).toBe(true);
    expect(hasErrorCode(result.error, ErrorCodes.HANDLER_FAILED)).toBe(false);
    expect(result.error.details).toEqual({ sku: "a" });
    const config = new CatgaConfigError([{ path: "retry.maxAttempts", message: "must be an integer" }]);
    expect(hasErrorCode(config, ErrorCodes.CONFIG)).toBe(true);
    expect(config.details).toEqual(config.issues);
    for (const value of [null, undefined, "CATGA_CONFIG", 42, { code: 1 }])
      expect(hasErrorCode(value, ErrorCodes.CONFIG)).toBe(false);
  });

  it("keep the typed details of a rate-limited send", async () => {
    const Ping = defineCommand("errors.ping");
    const catga = createCatga({ logger: silentLogger })
      .withRateLimiting({ capacity: 1, refillPerSecond: 0.001 })
      .handle(Ping, () => undefined)
      .build();
    expect((await catga.send(Ping, undefined)).ok).toBe(true);
    const limited = await catga.send(Ping, undefined);
    expect(!limited.ok && hasErrorCode(limited.error, ErrorCodes.RATE_LIMITED)).toBe(true);
    if (!limited.ok && hasErrorCode(limited.error, ErrorCodes.RATE_LIMITED))
      expect(limited.error.details.retryAfterMs).toBeGreaterThan(0);
  });
});
