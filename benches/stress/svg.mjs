// A small SVG writer for the stress and chaos reports: panels stacked on one time axis, each with
// its own y scale and line series, and vertical marks (faults, load steps) across all panels.
// Hand-written to keep the suite free of plotting dependencies.
import { escapeXml } from "../plot/svg-head.mjs";

const WIDTH = 900;
const PANEL_HEIGHT = 170;
const LEFT = 64;
const RIGHT = 150;
const TOP = 52;
const GAP = 34;

const fixed = (n) => (Math.round(n * 10) / 10).toString();

/** 0 and a round maximum at or above `max`, with the step between ticks. */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    const top = factor * magnitude;
    if (top >= max) return { top, step: top / 4 };
  }
  return { top: 10 * magnitude, step: 2.5 * magnitude };
}

/**
 * @param {object} plot
 * @param {string} plot.title
 * @param {number} plot.seconds  length of the time axis
 * @param {{ label: string, series: { name: string, color: string, points: [number, number | undefined][] }[] }[]} plot.panels
 *   points are [t seconds, value]; an undefined value breaks the line
 * @param {{ t: number, label: string, color?: string }[]} [plot.marks]
 * @returns {string} the SVG document
 */
export function timelineSvg({ title, seconds, panels, marks = [] }) {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const height = TOP + panels.length * (PANEL_HEIGHT + GAP) + 10;
  const x = (t) => LEFT + (Math.min(Math.max(t, 0), seconds) / seconds) * plotWidth;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, index) => {
    const top = TOP + index * (PANEL_HEIGHT + GAP);
    const bottom = top + PANEL_HEIGHT;
    const values = panel.series.flatMap((s) => s.points.map((p) => p[1]).filter((v) => Number.isFinite(v)));
    const scale = niceScale(Math.max(0, ...values));
    const y = (v) => bottom - (Math.min(v, scale.top) / scale.top) * PANEL_HEIGHT;
    out.push(`<text x="${LEFT}" y="${top - 6}" font-weight="bold">${escapeXml(panel.label)}</text>`);
    for (let v = 0; v <= scale.top + 1e-9; v += scale.step) {
      out.push(
        `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${fixed(y(v))}" y2="${fixed(y(v))}" stroke="#e4e4e4"/>`,
        `<text x="${LEFT - 6}" y="${fixed(y(v) + 4)}" text-anchor="end">${escapeXml(v.toLocaleString("en-US"))}</text>`,
      );
    }
    const tickStep = seconds > 60 ? 10 : seconds > 20 ? 5 : seconds > 8 ? 2 : 1;
    for (let t = 0; t <= seconds + 1e-9; t += tickStep) {
      out.push(`<text x="${fixed(x(t))}" y="${bottom + 14}" text-anchor="middle">${t}s</text>`);
    }
    out.push(
      `<rect x="${LEFT}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#888"/>`,
    );
    for (const mark of marks) {
      out.push(
        `<line x1="${fixed(x(mark.t))}" x2="${fixed(x(mark.t))}" y1="${top}" y2="${bottom}" stroke="${mark.color ?? "#555"}" stroke-dasharray="4 3"/>`,
      );
      if (index === 0) {
        out.push(
          `<text x="${fixed(x(mark.t) + 3)}" y="${top + 11}" fill="${mark.color ?? "#555"}">${escapeXml(mark.label)}</text>`,
        );
      }
    }
    panel.series.forEach((series, s) => {
      // One path, moving (M) after a gap so missing values do not draw a line through zero.
      let d = "";
      let pen = "M";
      for (const [t, v] of series.points) {
        if (!Number.isFinite(v)) {
          pen = "M";
          continue;
        }
        d += `${pen}${fixed(x(t))},${fixed(y(v))} `;
        pen = "L";
      }
      out.push(`<path d="${d.trim()}" fill="none" stroke="${series.color}" stroke-width="1.6"/>`);
      const legendY = top + 14 + s * 16;
      out.push(
        `<line x1="${LEFT + plotWidth + 10}" x2="${LEFT + plotWidth + 28}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="2"/>`,
        `<text x="${LEFT + plotWidth + 32}" y="${legendY}">${escapeXml(series.name)}</text>`,
      );
    });
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
