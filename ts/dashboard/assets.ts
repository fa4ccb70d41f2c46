/**
 * The dashboard's only stylesheet and script, served from its own routes: no inline code, so the
 * pages run under `script-src 'self'; style-src 'self'` and nothing is fetched from elsewhere.
 */

export const STYLESHEET = `
:root { --fg: #1d2330; --muted: #5c6577; --line: #d9dde5; --bg: #f6f7f9; --accent: #2357c6; --bad: #b3261e; --ok: #1f7a3f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
header h1 { font-size: 16px; margin: 0; }
header nav a { color: #c9d4ff; margin-right: 16px; text-decoration: none; }
header nav a.active { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
header .access { margin-left: auto; color: #9aa4b8; font-size: 12px; }
main { padding: 16px 20px; max-width: 1400px; }
h2 { font-size: 18px; margin: 8px 0 12px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f4; font-weight: 600; font-size: 12px; color: var(--muted); }
td.num, th.num { text-align: right; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 480px; white-space: pre-wrap; word-break: break-all; }
a { color: var(--accent); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
.card { background: #fff; border: 1px solid var(--line); padding: 10px 14px; min-width: 160px; }
.card .n { font-size: 24px; font-weight: 600; }
.card .l { color: var(--muted); font-size: 12px; }
.card.bad .n { color: var(--bad); }
form.filters { display: flex; gap: 8px; flex-wrap: wrap; align-items: end; margin-bottom: 12px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 3px; background: #fff; }
button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
button.plain { background: #fff; color: var(--fg); border-color: var(--line); }
.actions { display: flex; gap: 8px; margin: 10px 0; flex-wrap: wrap; }
.notice { padding: 10px 14px; border: 1px solid var(--line); background: #fff; margin-bottom: 12px; }
.notice.ok { border-color: var(--ok); color: var(--ok); }
.notice.bad { border-color: var(--bad); color: var(--bad); }
.muted { color: var(--muted); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: #fff; border: 1px solid var(--line); padding: 10px 14px; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-all; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; background: #eef0f4; font-size: 12px; }
.badge.event { background: #e3ecff; } .badge.command { background: #fde9d9; }
`;

export const SCRIPT = `
"use strict";
// Forms that act ask first (data-confirm); "select all" ticks every row of its table.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var submitter = event.submitter;
  var text = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
  if (submitter && submitter.getAttribute("data-needs-selection") !== null &&
      form.querySelectorAll('input[name="id"]:checked').length === 0) {
    event.preventDefault();
    window.alert("Select at least one dead letter first.");
    return;
  }
  if (text && !window.confirm(text)) event.preventDefault();
});
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  var form = box.form;
  if (!form) return;
  form.querySelectorAll('input[name="id"]').forEach(function (row) { row.checked = box.checked; });
});
`;

/** The tab icon (served, not inlined: the CSP allows images from the dashboard only). */
export const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2330"/><path d="M4 11V5h3.5a2 2 0 0 1 0 4H4m4 0 3 2" stroke="#c9d4ff" stroke-width="1.6" fill="none"/></svg>`;
