// `npm run load:sweep` (benches/load-sweep.mjs) in a tiny configuration: two low rates, 50
// connections, one 2 s round per server, bare Fastify against Fastify + an in-process command (no
// NATS). Asserts the sweep runs load.mjs at each rate, judges each rate held or not from the runs'
// own figures, and writes its report and plot; no timing figure is asserted. Needs dist/ (`npx tsup`).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { heldAt, sweepVerdicts } from "../../benches/load/held.mjs";

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
    expect(row.held).toBe(heldAt(run, row.rate));
    expect(row.p99).toEqual([run.p99]);
    expect(run.steadyP99).toBeGreaterThan(0);
  }
  // The printed verdict is the one computed from the rows.
  const [catga] = sweepVerdicts(
    report.rows.filter((r: { mode: string }) => r.mode === "catga"),
    5000,
  );
  expect(report.verdicts.find((v: { mode: string }) => v.mode === "catga")).toEqual(catga);
  expect(output).toContain(
    `catga: highest rate held with p99 < 5000 ms in every round: ${catga!.highestWithin === undefined ? "none" : catga!.highestWithin.toLocaleString("en-US")}`,
  );
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

describe("held and the sweep's verdict", () => {
  const run = { errors: 0, timeouts: 0, non2xx: 0, rps: 1000 };

  it("holds a rate only with no failure and ≥ 97 % of it answered", () => {
    expect(heldAt(run, 1000)).toBe(true);
    expect(heldAt({ ...run, rps: 970 }, 1000)).toBe(true);
    expect(heldAt({ ...run, rps: 969 }, 1000)).toBe(false);
    expect(heldAt({ ...run, errors: 1 }, 1000)).toBe(false);
    expect(heldAt({ ...run, timeouts: 1 }, 1000)).toBe(false);
    expect(heldAt({ ...run, non2xx: 1 }, 1000)).toBe(false);
  });

  it("reports a pass above a miss, and how far the passes run without a gap", () => {
    const row = (rate: number, p99: number[], held = true) => ({ rate, mode: "b", held, p99 });
    const [verdict] = sweepVerdicts(
      [
        row(2000, [24, 44]),
        row(8000, [18, 13]),
        row(16000, [18, 14]),
        row(18000, [36, 19]),
        row(22000, [18.7, 18.5]),
        row(30000, [27, 31]),
        row(36000, [57, 71], false),
      ],
      20,
    );
    expect(verdict).toEqual({
      mode: "b",
      within: [8000, 16000, 22000],
      outside: [2000, 18000, 30000, 36000],
      highestWithin: 22000,
      contiguous: 16000,
      highestHeld: 30000,
    });
    expect(sweepVerdicts([row(1000, [50])], 20)[0]).toMatchObject({
      within: [],
      highestWithin: undefined,
      contiguous: undefined,
      highestHeld: 1000,
    });
  });
});
