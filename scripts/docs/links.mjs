// Relative links in Markdown: the file must exist, and a `#anchor` into a Markdown file must be
// one of its headings as GitHub slugs them.
import { existsSync, readFileSync } from "node:fs";
import { join, posix, relative } from "node:path";
import { parse } from "./markdown.mjs";

/** GitHub's heading anchors (github-slugger): lower case, punctuation dropped, spaces to "-". */
export function headingAnchors(markdown) {
  const anchors = new Set();
  const seen = new Map();
  for (const { text } of parse(markdown).prose) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const plain = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "")
      .replace(/`/g, "");
    const slug = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  for (const [, id] of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(id);
  return anchors;
}

/**
 * Checks the relative links of `pages` ({ rel, text }, `rel` from `root` with "/"); pushes each
 * broken one to `problems` and returns how many links were checked.
 */
export function checkLinks(root, pages, problems) {
  const anchorCache = new Map();
  let count = 0;
  for (const { rel, text: page } of pages) {
    for (const { text, line } of parse(page).prose) {
      const outsideCode = text.replace(/`[^`]*`/g, "");
      const targets = [
        ...[...outsideCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)].map((m) => m[1]),
        ...[...outsideCode.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/g)].map((m) => m[1]),
      ];
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        count++;
        const hash = target.indexOf("#");
        const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
        const anchor = hash < 0 ? null : target.slice(hash + 1);
        const resolved = pathPart === "" ? rel : posix.normalize(posix.join(posix.dirname(rel), pathPart));
        const absolute = join(root, pathPart.startsWith("/") ? pathPart.slice(1) : resolved);
        if (!existsSync(absolute)) {
          problems.push(`${rel}:${line}: broken link ${target} (no ${relative(root, absolute)})`);
          continue;
        }
        if (anchor === null || !absolute.endsWith(".md")) continue;
        if (!anchorCache.has(absolute))
          anchorCache.set(absolute, headingAnchors(readFileSync(absolute, "utf8")));
        if (!anchorCache.get(absolute).has(decodeURIComponent(anchor))) {
          problems.push(
            `${rel}:${line}: broken anchor ${target} (no heading "#${anchor}" in ${relative(root, absolute)})`,
          );
        }
      }
    }
  }
  return count;
}
