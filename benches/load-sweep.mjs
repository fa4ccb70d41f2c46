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
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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

const reports = [];
for (const rate of rates) {
  const file = join(out, `load-c${connections}-r${rate}.json`);
  if (!reuse || !existsSync(file)) {
    console.log(`\n== ${rate.toLocaleString("en-US")} req/s offered`);
    execFileSync(
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
  }
  reports.push(JSON.parse(readFileSync(file, "utf8")));
}

const heldRun = (r, rate) => r.errors + r.timeouts + r.non2xx === 0 && r.rps >= 0.97 * rate;
const modes = [...new Set(reports.flatMap((report) => report.rounds.map((r) => r.mode)))];
const rows = [];
for (const report of reports) {
  for (const mode of modes) {
    const runs = report.rounds.filter((r) => r.mode === mode);
    if (runs.length === 0) continue;
    rows.push({
      rate: report.rate,
      mode,
      held: runs.every((r) => heldRun(r, report.rate)),
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
    `| ${row.rate.toLocaleString("en-US")} | ${row.mode} | ${row.held ? "yes" : "no"} | ${row.p50.join(", ")} | ${row.p99.join(", ")} | ${row.steadyP99.map((v) => v ?? "–").join(", ")} |`,
  );
for (const mode of modes) {
  const mine = rows.filter((r) => r.mode === mode);
  const within = mine.filter((r) => r.held && r.p99.every((p) => p < bound));
  const best = within.reduce((top, r) => (r.rate > (top?.rate ?? 0) ? r : top), undefined);
  const most = mine
    .filter((r) => r.held)
    .reduce((top, r) => (r.rate > (top?.rate ?? 0) ? r : top), undefined);
  console.log(
    `${mode}: highest rate held with p99 < ${bound} ms in every round: ${best ? `${best.rate.toLocaleString("en-US")} req/s (p99 ${best.p99.join(", ")} ms)` : "none of the rates tried"}; highest held at all: ${most ? `${most.rate.toLocaleString("en-US")} req/s (p99 ${most.p99.join(", ")} ms)` : "none"}`,
  );
}

const name = `load-sweep-c${connections}`;
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, `${name}.json`),
  `${JSON.stringify({ suite: "load-sweep", dates: reports.map((report) => report.date), connections, bound, rows }, null, 2)}\n`,
);
// Dated by its runs (with --reuse, the plot may be drawn long after them).
const dates = reports.map((report) => report.date).sort();
const when = `${dates[0].slice(0, 16).replace("T", " ")}–${dates.at(-1).slice(11, 16)} UTC`;
writeFileSync(join(out, `${name}.svg`), sweepSvg(rows, modes, when));
console.log(`\nreport: ${join(out, `${name}.json`)}, plot ${name}.svg`);

/** p99 (the rounds' median, whiskers to min and max) against the offered rate, one line per server. */
function sweepSvg(rows, modes, when) {
  const [W, H, L, R, T, B] = [900, 420, 70, 230, 56, 50];
  const COLORS = ["#888", "#2a7", "#36c", "#d22"];
  const median = (v) => {
    const sorted = [...v].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const maxRate = Math.max(...rows.map((r) => r.rate));
  const maxMs = Math.max(bound * 1.5, ...rows.flatMap((r) => r.p99));
  const x = (rate) => L + (rate / maxRate) * (W - L - R);
  const y = (ms) => T + (H - T - B) * (1 - ms / maxMs);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${L}" y="22" font-size="15" font-weight="bold">p99 against the offered rate, ${connections.toLocaleString("en-US")} connections</text>`,
    `<text x="${L}" y="40" fill="#555">${when}; median of the rounds, bars from the lowest to the highest round; hollow: not held</text>`,
    `<line x1="${L}" y1="${y(bound)}" x2="${W - R}" y2="${y(bound)}" stroke="#d22" stroke-dasharray="6 4"/>`,
    `<text x="${W - R + 6}" y="${y(bound)}" dominant-baseline="middle" fill="#d22">bar: ${bound} ms</text>`,
  ];
  const step = 10 ** Math.floor(Math.log10(maxMs / 2));
  for (let ms = 0; ms <= maxMs; ms += step)
    parts.push(
      `<line x1="${L}" y1="${y(ms)}" x2="${W - R}" y2="${y(ms)}" stroke="#eee"/>`,
      `<text x="${L - 8}" y="${y(ms)}" text-anchor="end" dominant-baseline="middle">${ms} ms</text>`,
    );
  for (const rate of [...new Set(rows.map((r) => r.rate))])
    parts.push(
      `<text x="${x(rate)}" y="${H - B + 18}" text-anchor="middle">${(rate / 1000).toLocaleString("en-US")}K</text>`,
    );
  parts.push(
    `<text x="${L + (W - L - R) / 2}" y="${H - 10}" text-anchor="middle" fill="#555">offered req/s</text>`,
  );
  modes.forEach((mode, index) => {
    const color = COLORS[index % COLORS.length];
    const mine = rows.filter((r) => r.mode === mode).sort((a, b) => a.rate - b.rate);
    parts.push(
      `<path d="${mine.map((r, i) => `${i ? "L" : "M"}${x(r.rate).toFixed(1)},${y(median(r.p99)).toFixed(1)}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`,
      ...mine.flatMap((r) => [
        `<line x1="${x(r.rate)}" y1="${y(Math.min(...r.p99))}" x2="${x(r.rate)}" y2="${y(Math.max(...r.p99))}" stroke="${color}"/>`,
        `<circle cx="${x(r.rate).toFixed(1)}" cy="${y(median(r.p99)).toFixed(1)}" r="4" fill="${r.held ? color : "#fff"}" stroke="${color}" stroke-width="2"/>`,
      ]),
      `<rect x="${W - R + 16}" y="${T + 30 + index * 22}" width="14" height="4" fill="${color}"/>`,
      `<text x="${W - R + 36}" y="${T + 30 + index * 22 + 5}">${mode}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
