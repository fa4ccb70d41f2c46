// The stress and chaos suites (benches/stress.mjs, benches/chaos.mjs) in their tiny mode: a few
// seconds each against the machine's nats-server. Asserts the report is written (JSON, Markdown,
// an SVG plot) and the invariants each suite checks; no timing figure is asserted beyond the
// suites' own bounds (instance kill: < 1 s with errors). Needs dist/ (`npx tsup`).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = mkdtempSync(join(tmpdir(), "catga-stress-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs a suite in tiny mode; resolves with its exit code and output (it stops every process it starts). */
function runTiny(script: string): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [join(root, "benches", script), "--tiny", `--out=${out}`],
      { cwd: root, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolvePromise({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

function expectPlot(name: string): void {
  const svg = readFileSync(join(out, `${name}.svg`), "utf8");
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  // Lines were drawn: at least one path with a segment.
  expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
  expect(readFileSync(join(out, `${name}.md`), "utf8")).toContain(`](${name}.svg)`);
  // The latency histogram: one step line per series, linked from the report.
  const histogram = readFileSync(join(out, `${name}-latency.svg`), "utf8");
  expect(histogram.trimEnd().endsWith("</svg>")).toBe(true);
  expect(histogram).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
  expect(histogram).toMatch(/answers, p50 [\d.]+ ms, p99 [\d.]+ ms/);
  expect(readFileSync(join(out, `${name}.md`), "utf8")).toContain(`](${name}-latency.svg)`);
}

describe("load suites in tiny mode", () => {
  it("stress: overload is shed with 503 + Retry-After, nothing crashes, RSS bounded, recovery", async () => {
    const { code, output } = await runTiny("stress.mjs");
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "stress.json"), "utf8"));
    expect(Object.values(report.checks).every(Boolean), JSON.stringify(report.checks)).toBe(true);
    expect(report.steps.map((s: { label: string }) => s.label)).toEqual(["0.5x", "2x", "5x", "drop"]);
    expect(report.missingRetryAfter).toBe(0);
    expect(report.statuses[503]).toBeGreaterThan(0);
    expect(Object.keys(report.statuses)).toEqual(["503"]);
    expect(report.retryAfterValues.length).toBeGreaterThan(0);
    expectPlot("stress");
  }, 70_000);

  it("chaos: a second instance serves on through kill -9, restart and SIGSTOP/SIGCONT", async () => {
    const { code, output } = await runTiny("chaos.mjs");
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "chaos.json"), "utf8"));
    expect(Object.values(report.checks).every(Boolean), JSON.stringify(report.checks)).toBe(true);
    expect(report.faults).toHaveLength(3);
    expect(report.faults[0].errorMs).toBeLessThan(1000);
    expect(report.handled.a).toBeGreaterThan(0);
    expect(report.missingRetryAfter).toBe(0);
    expectPlot("chaos");
  }, 70_000);
});
