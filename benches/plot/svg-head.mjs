// What every hand-written plot of the benches starts with (benches/load/, benches/stress/): XML
// escaping for labels, and the document head: size, white background, title and subtitle.

/** Text safe inside an SVG element or attribute. */
export const escapeXml = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

/** The opening lines of a plot `width` × `height`, its title and subtitle starting at x = `left`. */
export function svgHead({ width, height, left, title, subtitle }) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left}" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
}
