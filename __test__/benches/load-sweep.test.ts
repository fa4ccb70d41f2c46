// `npm run load:sweep` (benches/load-sweep.mjs) in a tiny configuration: two low rates, 50
// connections, one 2 s round per server, bare Fastify against Fastify + an in-process command (no
// NATS). Asserts the sweep runs load.mjs at each rate, judges each rate held or not from the runs'
// own figures, and writes its report and plot; no timing figure is asserted. Needs dist/ (`npx tsup`).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = mkdtempSync(join(tmpdir(), "catga-sweep-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function sweep(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [join(root, "benches", "load-sweep.mjs"), ...args, `--out=${out}`],
      { cwd: root, timeout: 90_000, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolvePromise({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

it("runs each rate, finds the highest held under the p99 bound, and plots p99 against the rate", async () => {
  const { code, output } = await sweep([
    "--rates=100,200",
    "--servers=bare,catga",
    "--connections=50",
    "--rounds=1",
    "--duration=2",
    "--p99=5000",
  ]);
  expect(code, output).toBe(0);
  const report = JSON.parse(readFileSync(join(out, "load-sweep-c50.json"), "utf8"));
  expect(report.rows.map((r: { rate: number; mode: string }) => `${r.rate} ${r.mode}`)).toEqual([
    "100 bare",
    "100 catga",
    "200 bare",
    "200 catga",
  ]);
  // Each row is judged from its run's report: held means no failure and ≥ 97 % answered.
  for (const row of report.rows) {
    const run = JSON.parse(readFileSync(join(out, `load-c50-r${row.rate}.json`), "utf8")).rounds.find(
      (r: { mode: string }) => r.mode === row.mode,
    );
    expect(row.held).toBe(run.errors + run.timeouts + run.non2xx === 0 && run.rps >= 0.97 * row.rate);
    expect(row.p99).toEqual([run.p99]);
    expect(run.steadyP99).toBeGreaterThan(0);
  }
  expect(output).toMatch(/catga: highest rate held with p99 < 5000 ms in every round: /);
  const svg = readFileSync(join(out, "load-sweep-c50.svg"), "utf8");
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L/);

  // --reuse draws from the reports already written, without running anything.
  const again = await sweep(["--rates=100,200", "--connections=50", "--reuse", "--p99=5000"]);
  expect(again.code, again.output).toBe(0);
  expect(again.output).not.toContain("req/s offered");
}, 120_000);

it("refuses a rate below the connection count", async () => {
  const { code, output } = await sweep(["--rates=10", "--connections=50"]);
  expect(code).toBe(2);
  expect(output).toContain("--rates must be integers");
});
