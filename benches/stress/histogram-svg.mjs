// Latency histograms of the stress and chaos suites: for each series (a load step, or the time
// before and during the faults), the share of its 2xx answers in each latency bin. Bins are
// log-spaced (five per decade) because the tail spans three orders of magnitude; one step line per
// series, so several series stay readable on one plot. Hand-written SVG like ./svg.mjs.
import { escapeXml, svgHead } from "../plot/svg-head.mjs";
import { percentile } from "./timeline.mjs";

const WIDTH = 900;
const HEIGHT = 420;
const LEFT = 60;
const RIGHT = 300;
const TOP = 56;
const BOTTOM = 50;
const BINS_PER_DECADE = 5;
// Enough for the stress suite's seven steps without a repeat.
const COLORS = ["#2a7", "#36c", "#e80", "#d22", "#939", "#888", "#0aa", "#a60"];

/**
 * @param {object} plot
 * @param {string} plot.title
 * @param {string} plot.subtitle
 * @param {{ name: string, latencies: number[] }[]} plot.series  2xx latencies in ms
 * @returns {string} the SVG document
 */
export function latencyHistogramSvg({ title, subtitle, series }) {
  const drawn = series.filter((s) => s.latencies.length > 0);
  // A loop, not Math.min(...all): a full run has far more answers than a call takes arguments.
  let least = 1;
  let most = 10;
  for (const s of drawn)
    for (const ms of s.latencies) {
      if (ms < least) least = ms;
      if (ms > most) most = ms;
    }
  const low = 10 ** Math.floor(Math.log10(Math.max(0.1, least)));
  const high = 10 ** Math.ceil(Math.log10(most));
  const bins = Math.round(Math.log10(high / low) * BINS_PER_DECADE);
  const binOf = (ms) =>
    Math.min(bins - 1, Math.max(0, Math.floor(Math.log10(Math.max(ms, low) / low) * BINS_PER_DECADE)));
  const shares = drawn.map((s) => {
    const counts = new Array(bins).fill(0);
    for (const ms of s.latencies) counts[binOf(ms)]++;
    return counts.map((count) => (100 * count) / s.latencies.length);
  });
  const highest = Math.max(...shares.flat(), 0);
  const tick = highest <= 50 ? 10 : 20;
  const top = Math.max(tick, Math.ceil(highest / tick) * tick);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const x = (bin) => LEFT + (bin / bins) * plotWidth;
  const y = (share) => TOP + plotHeight - (share / top) * plotHeight;
  const parts = svgHead({ width: WIDTH, height: HEIGHT, left: LEFT, title, subtitle });
  for (let share = 0; share <= top; share += tick) {
    parts.push(
      `<line x1="${LEFT}" y1="${y(share).toFixed(1)}" x2="${LEFT + plotWidth}" y2="${y(share).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${LEFT - 8}" y="${y(share).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${share} %</text>`,
    );
  }
  for (let decade = low, bin = 0; decade <= high; decade *= 10, bin += BINS_PER_DECADE) {
    parts.push(
      `<line x1="${x(bin).toFixed(1)}" y1="${TOP}" x2="${x(bin).toFixed(1)}" y2="${TOP + plotHeight}" stroke="#ddd"/>`,
      `<text x="${x(bin).toFixed(1)}" y="${TOP + plotHeight + 18}" text-anchor="middle">${Number(decade.toPrecision(1)).toLocaleString("en-US")} ms</text>`,
    );
  }
  parts.push(
    `<text x="${LEFT + plotWidth / 2}" y="${HEIGHT - 10}" text-anchor="middle" fill="#555">latency of the 2xx answers (log scale, ${BINS_PER_DECADE} bins per decade); height: share of the series' answers</text>`,
  );
  drawn.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    const path = shares[index]
      .map(
        (share, bin) =>
          `${bin === 0 ? "M" : "L"}${x(bin).toFixed(1)},${y(share).toFixed(1)} L${x(bin + 1).toFixed(1)},${y(share).toFixed(1)}`,
      )
      .join(" ");
    const p50 = percentile(s.latencies, 0.5);
    const p99 = percentile(s.latencies, 0.99);
    parts.push(
      `<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`,
      `<rect x="${LEFT + plotWidth + 16}" y="${TOP + index * 36}" width="14" height="4" fill="${color}"/>`,
      `<text x="${LEFT + plotWidth + 36}" y="${TOP + index * 36 + 5}">${escapeXml(s.name)}</text>`,
      `<text x="${LEFT + plotWidth + 36}" y="${TOP + index * 36 + 20}" fill="#555">${s.latencies.length.toLocaleString("en-US")} answers, p50 ${round(p50)} ms, p99 ${round(p99)} ms</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

const round = (ms) => (ms >= 10 ? Math.round(ms) : Math.round(ms * 10) / 10);
