// The latency plot of the load suite (benches/load.mjs): latency at each percentile, one line per
// server, on a logarithmic axis (the tail spans three orders of magnitude). Hand-written SVG, no
// plotting dependency, like benches/stress/svg.mjs.
import { escapeXml, svgHead } from "../plot/svg-head.mjs";

/** The percentiles plotted, left to right (autocannon's and the HDR histogram's keys). */
export const PERCENTILES = [50, 75, 90, 97.5, 99, 99.9, 99.99];

const WIDTH = 900;
const HEIGHT = 420;
const LEFT = 70;
const RIGHT = 330;
const TOP = 56;
const BOTTOM = 50;
const COLORS = ["#888", "#36c", "#2a7", "#d22", "#e80", "#939"];

/**
 * @param {object} plot
 * @param {string} plot.title
 * @param {string} plot.subtitle
 * @param {{ name: string, values: Record<number, number> }[]} plot.series  ms at each percentile
 */
export function percentilesSvg({ title, subtitle, series }) {
  const values = series.flatMap((s) => PERCENTILES.map((p) => s.values[p])).filter((v) => v > 0);
  const low = 10 ** Math.floor(Math.log10(Math.min(...values, 1)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const x = (i) => LEFT + (i / (PERCENTILES.length - 1)) * plotWidth;
  const y = (ms) =>
    TOP +
    plotHeight -
    ((Math.log10(Math.max(ms, low)) - Math.log10(low)) / Math.log10(high / low)) * plotHeight;
  const parts = svgHead({ width: WIDTH, height: HEIGHT, left: LEFT, title, subtitle });
  for (let decade = low; decade <= high; decade *= 10) {
    const at = y(decade).toFixed(1);
    parts.push(
      `<line x1="${LEFT}" y1="${at}" x2="${LEFT + plotWidth}" y2="${at}" stroke="#eee"/>`,
      `<text x="${LEFT - 8}" y="${at}" text-anchor="end" dominant-baseline="middle">${decade.toLocaleString("en-US")} ms</text>`,
    );
  }
  PERCENTILES.forEach((p, i) => {
    parts.push(
      `<line x1="${x(i)}" y1="${TOP}" x2="${x(i)}" y2="${TOP + plotHeight}" stroke="#f3f3f3"/>`,
      `<text x="${x(i)}" y="${TOP + plotHeight + 18}" text-anchor="middle">p${p}</text>`,
    );
  });
  parts.push(
    `<text x="${LEFT + plotWidth / 2}" y="${HEIGHT - 10}" text-anchor="middle" fill="#555">percentile of the 2xx latencies (median over the rounds)</text>`,
  );
  series.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    const points = PERCENTILES.map((p, i) => [x(i), y(s.values[p])]);
    parts.push(
      `<path d="${points.map(([px, py], i) => `${i === 0 ? "M" : "L"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`,
      ...points.map(
        ([px, py]) => `<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3" fill="${color}"/>`,
      ),
      `<rect x="${LEFT + plotWidth + 16}" y="${TOP + index * 22}" width="14" height="4" fill="${color}"/>`,
      `<text x="${LEFT + plotWidth + 36}" y="${TOP + index * 22 + 5}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
