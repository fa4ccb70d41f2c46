import { afterAll, describe, expect, it } from "vitest";
import { isolatedRun, runExample } from "./helpers.js";

// The financial example on the machine's NATS and PostgreSQL: its own NATS prefix (so its own
// streams) and PostgreSQL schema, removed afterwards.
const { env, cleanup } = isolatedRun("fin");
afterAll(cleanup);

/** The count on the summary line that ends with `what`, e.g. "  165  completed". */
function count(lines: string[], what: RegExp): number {
  const line = lines.find((l) => what.test(l));
  return line === undefined ? 0 : Number(line.trim().split(/\s+/)[0]);
}

describe("examples/financial: transfers across processes, the ledger and the saga host killed mid-run", {
  timeout: 90_000,
}, () => {
  it("settles every transfer and proves in SQL that the books balance and nothing applied twice", async () => {
    const result = await runExample("financial", env, 80_000);
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(0);
    const { lines } = result;
    expect(
      lines.some((l) => /^all 200 transfers settled in [\d.]+ s$/.test(l)),
      output,
    ).toBe(true);
    expect(
      lines.some((l) => /^ledger killed with SIGKILL after \d+ debits/.test(l)),
      output,
    ).toBe(true);
    expect(
      lines.some((l) => /^transfers host killed with SIGKILL with \d+ of 200 settled/.test(l)),
      output,
    ).toBe(true);
    // Killed as it started a command's work: that command ran again in the new ledger.
    const again = lines.find((l) => l.startsWith("ledger: "))?.match(/; (\d+) ran again/)?.[1];
    expect(Number(again), output).toBeGreaterThan(0);

    const completed = count(lines, /^\s+\d+\s+completed$/);
    expect(completed).toBeGreaterThan(0);
    expect(count(lines, /COMPLIANCE_REJECTED/)).toBeGreaterThan(0);
    expect(count(lines, /LEDGER_INSUFFICIENT_FUNDS/)).toBeGreaterThan(0);
    expect(count(lines, /LEDGER_ACCOUNT_CLOSED/)).toBeGreaterThan(0);
    expect(
      lines.filter((l) => /unexpected/.test(l)),
      output,
    ).toEqual([]);
    expect(lines).toContain(`notifications recorded: ${completed}`);

    const verdicts = lines.filter((l) => /^\s+(ok|FAILED)\s/.test(l));
    expect(
      verdicts.filter((l) => !/^\s+ok\s/.test(l)),
      output,
    ).toEqual([]);
    expect(verdicts.map((l) => l.replace(/^\s+ok\s+/, ""))).toEqual([
      "every transfer reached a terminal state (completed or compensated)",
      "every posting is two entries that sum to zero (double entry)",
      "account balances sum to zero",
      "every balance equals the sum of its entries",
      "nothing is left in the clearing account",
      "no customer balance is below zero",
      "no transfer was debited, credited or reversed twice",
      "each transfer's postings match its outcome",
      "each balance is its opening plus what completed transfers brought in, minus what they took",
      "one notification per completed transfer, none for the others",
    ]);
  });

  it("names NATS and how to start it when NATS is down", async () => {
    const result = await runExample("financial", { ...env, NATS_URL: "nats://127.0.0.1:1" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("This example needs NATS at nats://127.0.0.1:1");
    expect(result.stderr).toContain("bash scripts/services.sh");
  });

  it("names PostgreSQL when PostgreSQL is down", async () => {
    const result = await runExample("financial", {
      ...env,
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/test",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("This example needs PostgreSQL at postgres://postgres@127.0.0.1:1/test");
  });
});
