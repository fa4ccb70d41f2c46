// The plot of benches/load-sweep.mjs: p99 against the offered rate, one line per server (the
// median of the rounds, a bar from the lowest to the highest round, a hollow dot where the rate was
// not held), and the p99 bound as a dashed line.
import { escapeXml, svgHead } from "../plot/svg-head.mjs";

/** p99 (the rounds' median, whiskers to min and max) against the offered rate, one line per server. */
export function sweepSvg({ rows, modes, when, connections, bound }) {
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
    ...svgHead({
      width: W,
      height: H,
      left: L,
      title: `p99 against the offered rate, ${connections.toLocaleString("en-US")} connections`,
      subtitle: `${when}; median of the rounds, bars from the lowest to the highest round; hollow: not held`,
    }),
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
      `<text x="${W - R + 36}" y="${T + 30 + index * 22 + 5}">${escapeXml(mode)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
