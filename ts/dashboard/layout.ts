/** The frame every dashboard page shares (navigation, access, notices) and the value formats it uses. */
import { html, type SafeHtml } from "./html.js";

/** What a page needs from the request it answers. */
export interface PageContext {
  /** The mount path, without a trailing slash ("" at the root): links are `${base}/…`. */
  readonly base: string;
  /** Whether the caller may replay and purge (forms with buttons are rendered only then). */
  readonly canOperate: boolean;
  /** The anti-CSRF token for forms. */
  readonly csrf: string;
  /** The heading of every page. */
  readonly title: string;
  /** Whether the PostgreSQL views exist (a pool was given). */
  readonly hasStore: boolean;
  /** Whether the Cluster page exists (a cluster was given). */
  readonly hasCluster: boolean;
}

export type Section = "overview" | "dead-letters" | "outbox" | "inbox" | "sagas" | "cluster";

export function page(ctx: PageContext, section: Section, heading: string, body: SafeHtml): string {
  const link = (to: Section, path: string, label: string) =>
    html`<a href="${ctx.base}${path}" class="${to === section ? "active" : ""}">${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${heading} · ${ctx.title}</title>
<link rel="icon" href="${ctx.base}/assets/icon.svg">
<link rel="stylesheet" href="${ctx.base}/assets/dashboard.css">
<script src="${ctx.base}/assets/dashboard.js" defer></script>
</head>
<body>
<header>
<h1>${ctx.title}</h1>
<nav>${link("overview", "/", "Overview")}${link("dead-letters", "/dead-letters", "Dead letters")}${
    ctx.hasStore
      ? [
          link("outbox", "/outbox", "Outbox"),
          link("inbox", "/inbox", "Inbox"),
          link("sagas", "/sagas", "Sagas"),
        ]
      : []
  }${ctx.hasCluster ? link("cluster", "/cluster", "Cluster") : ""}</nav>
<span class="access">${ctx.canOperate ? "operator" : "read-only"}</span>
</header>
<main>
<h2>${heading}</h2>
${body}
</main>
</body>
</html>
`.value;
}

/** An epoch-ms time as ISO 8601 (UTC), or a dash when unknown (0 or absent). */
export function time(ms: number | undefined): string {
  return ms === undefined || ms <= 0 || ms > 8.64e15 || !Number.isFinite(ms)
    ? "—"
    : new Date(ms).toISOString();
}

/** How long ago `ms` was, in the largest whole unit. */
export function age(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined || ms <= 0) return "—";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

/**
 * Any decoded value as indented JSON: msgpack may decode to bigint, bytes, Map, Set or Date, which
 * JSON.stringify would throw on or flatten to `{}`.
 */
export function json(value: unknown, maxChars = 100_000): string {
  const text =
    JSON.stringify(
      value,
      (_key, v: unknown) => {
        if (typeof v === "bigint") return `${v}n`;
        if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString("base64") };
        if (v instanceof Map) return Object.fromEntries(v);
        if (v instanceof Set) return [...v];
        return v;
      },
      2,
    ) ?? "undefined";
  return text.length > maxChars
    ? `${text.slice(0, maxChars)}\n… (${text.length - maxChars} more characters)`
    : text;
}

/** The first `maxBytes` of `bytes` as a hex dump with printable ASCII beside it. */
export function hexDump(bytes: Uint8Array, maxBytes = 4096): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, maxBytes);
  for (let at = 0; at < end; at += 16) {
    const row = bytes.subarray(at, Math.min(at + 16, end));
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(6, "0")}  ${hex.padEnd(47)}  ${text}`);
  }
  if (bytes.length > end) lines.push(`… ${bytes.length - end} more bytes`);
  return lines.join("\n");
}

/** A notice box: `ok` for done, `bad` for a refusal or failure. */
export function notice(kind: "ok" | "bad", body: SafeHtml | string): SafeHtml {
  return html`<div class="notice ${kind}" role="status">${body}</div>`;
}
