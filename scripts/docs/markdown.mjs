// Markdown as scripts/check-docs.mjs sees it: fenced code blocks (with the snippet markers above
// them) apart from prose lines, so links and headings inside code are ignored.

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;
const MARKER = /^\s*<!--\s*snippet:\s*([a-z]+)\s*(.*)$/;

/**
 * Splits a Markdown file into fenced code blocks (with the snippet markers just above each, if
 * any) and prose lines (with their line numbers). A block's `line` is its first body line, so its
 * opening fence is at `line - 1`.
 */
export function parse(text) {
  const lines = text.split("\n");
  const blocks = [];
  const prose = [];
  let markers = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const open = FENCE.exec(line);
    if (open) {
      const [, , fence, lang, rest] = open;
      const body = [];
      let j = i + 1;
      while (j < lines.length && !lines[j].trim().startsWith(fence)) body.push(lines[j++]);
      blocks.push({ lang: lang.toLowerCase(), info: rest.trim(), line: i + 2, body, markers });
      markers = [];
      i = j;
      continue;
    }
    const mark = MARKER.exec(line);
    if (mark) {
      // A marker runs to its closing "-->"; a context marker's lines in between are code.
      // `codeLines` holds each code line's page line (the code starts on the marker's line or after).
      const [, kind, first] = mark;
      const code = [];
      const codeLines = [];
      let j = i;
      let tail = first;
      while (!tail.includes("-->") && j + 1 < lines.length) {
        if (tail.trim()) {
          code.push(tail);
          codeLines.push(j + 1);
        }
        tail = lines[++j];
      }
      const last = tail.slice(0, tail.indexOf("-->"));
      if (last.trim()) {
        code.push(last);
        codeLines.push(j + 1);
      }
      markers.push({ kind, code, codeLines, line: i + 1 });
      i = j;
      continue;
    }
    if (line.trim() !== "") markers = [];
    prose.push({ text: line, line: i + 1 });
  }
  return { blocks, prose };
}

/**
 * The code blocks of a page, each ` ```md ` block followed by the blocks it shows (a page about
 * writing docs shows a marker and a block): those are code of the page too, checked in place,
 * with their page line numbers, unless the md block is ignored.
 */
export function codeBlocks(text) {
  const blocks = [];
  for (const block of parse(text).blocks) {
    blocks.push(block);
    if (block.lang !== "md" || block.info.startsWith("ignore")) continue;
    const offset = block.line - 1;
    for (const inner of codeBlocks(block.body.join("\n"))) {
      blocks.push({
        ...inner,
        line: inner.line + offset,
        markers: inner.markers.map((marker) => ({
          ...marker,
          line: marker.line + offset,
          codeLines: marker.codeLines.map((line) => line + offset),
        })),
      });
    }
  }
  return blocks;
}
