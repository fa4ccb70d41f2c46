// The p99 bar of issue 19, flow (b), as one command: runs benches/load.mjs at each offered rate
// (1,000 connections by default), then reports per rate and server whether the rate was held (no
// error, timeout or non-2xx; ≥ 97 % answered, in every round) and its p99, the highest rate held
// with p99 < --p99 ms in every round, and a plot of p99 against the offered rate.
//
//   npx tsup && npm run load:sweep [-- --rates=8000,14000,22000,30000] [--servers=bare,catga-nats]
//                                    [--rounds=2] [--duration=6] [--connections=1000] [--p99=20]
//                                    [--out=benches/reports] [--reuse]
//
// --reuse plots the load-c<connections>-r<rate>.json reports already in --out instead of running
// them again (e.g. after the runs, to redraw). Writes load-sweep-c<connections>.json and .svg.
// Two p99s per run: the whole run's, and the run without each autocannon instance's first second
// (while its connections open: see benches/load.mjs). The verdict uses the whole run's.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { heldAt, sweepVerdicts } from "./load/held.mjs";
import { sweepSvg } from "./load/sweep-svg.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const option = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const rates = option("rates", "8000,14000,22000,30000").split(",").map(Number);
const servers = option("servers", "bare,catga-nats");
const rounds = Number(option("rounds", "2"));
const duration = Number(option("duration", "6"));
const connections = Number(option("connections", "1000"));
const bound = Number(option("p99", "20"));
const out = option("out", join(here, "reports"));
const reuse = process.argv.includes("--reuse");
if (rates.some((r) => !Number.isInteger(r) || r < connections) || !(bound > 0)) {
  console.error(`--rates must be integers ≥ --connections (${connections}), --p99 a positive number of ms`);
  process.exit(2);
}

const fmtRate = (rate) => rate.toLocaleString("en-US");
const reports = [];
for (const rate of rates) {
  const file = join(out, `load-c${connections}-r${rate}.json`);
  if (!reuse || !existsSync(file)) {
    console.log(`\n== ${fmtRate(rate)} req/s offered`);
    const before = existsSync(file) ? statSync(file).mtimeMs : 0;
    // load.mjs exits 1 when a run had failures, after writing its report: past saturation that is
    // a result to record, not a reason to stop the sweep.
    const { status } = spawnSync(
      process.execPath,
      [
        join(here, "load.mjs"),
        `--servers=${servers}`,
        `--rounds=${rounds}`,
        `--duration=${duration}`,
        `--connections=${connections}`,
        `--rate=${rate}`,
        `--out=${out}`,
      ],
      { stdio: "inherit" },
    );
    const written = existsSync(file) && statSync(file).mtimeMs > before;
    if ((status !== 0 && status !== 1) || !written) {
      console.error(`load.mjs at ${rate} req/s ended with status ${status} and no new report`);
      process.exit(1);
    }
  }
  reports.push(JSON.parse(readFileSync(file, "utf8")));
}

const modes = [...new Set(reports.flatMap((report) => report.rounds.map((r) => r.mode)))];
const rows = [];
for (const report of reports) {
  for (const mode of modes) {
    const runs = report.rounds.filter((r) => r.mode === mode);
    if (runs.length === 0) continue;
    rows.push({
      rate: report.rate,
      mode,
      held: runs.every((r) => heldAt(r, report.rate)),
      p99: runs.map((r) => r.p99),
      steadyP99: runs.map((r) => r.steadyP99),
      p50: runs.map((r) => r.p50),
    });
  }
}

console.log(
  `\n| offered req/s | server | held in every round | p50 ms per round | p99 ms per round | p99 after the first second |`,
);
console.log("| ---: | --- | --- | --- | --- | --- |");
for (const row of rows)
  console.log(
    `| ${fmtRate(row.rate)} | ${row.mode} | ${row.held ? "yes" : "no"} | ${row.p50.join(", ")} | ${row.p99.join(", ")} | ${row.steadyP99.map((v) => v ?? "–").join(", ")} |`,
  );
const verdicts = sweepVerdicts(rows, bound);
for (const v of verdicts) {
  const p99Of = (rate) => rows.find((r) => r.mode === v.mode && r.rate === rate).p99.join(", ");
  console.log(
    `${v.mode}: highest rate held with p99 < ${bound} ms in every round: ${v.highestWithin === undefined ? "none of the rates tried" : `${fmtRate(v.highestWithin)} req/s (p99 ${p99Of(v.highestWithin)} ms)`}; within the bound at ${v.within.map(fmtRate).join(", ") || "none"}, without a gap from the lowest up to ${v.contiguous === undefined ? "–" : fmtRate(v.contiguous)}; not within at ${v.outside.map(fmtRate).join(", ") || "none"}; highest held at all: ${v.highestHeld === undefined ? "none" : `${fmtRate(v.highestHeld)} req/s (p99 ${p99Of(v.highestHeld)} ms)`}`,
  );
}

const name = `load-sweep-c${connections}`;
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, `${name}.json`),
  `${JSON.stringify({ suite: "load-sweep", dates: reports.map((report) => report.date), connections, bound, rows, verdicts }, null, 2)}\n`,
);
// Dated by its runs (with --reuse, the plot may be drawn long after them).
const dates = reports.map((report) => report.date).sort();
const when = `${dates[0].slice(0, 16).replace("T", " ")}–${dates.at(-1).slice(11, 16)} UTC`;
writeFileSync(join(out, `${name}.svg`), sweepSvg({ rows, modes, when, connections, bound }));
console.log(`\nreport: ${join(out, `${name}.json`)}, plot ${name}.svg`);
