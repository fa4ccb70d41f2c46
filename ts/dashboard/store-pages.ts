/** The overview page and the PostgreSQL views: outbox backlog, inbox, saga instances. */
import type { DeadLetterCounts } from "../operations/dead-letters.js";
import type { InboxStatus } from "../operations/inbox.js";
import type { OutboxBacklog } from "../operations/outbox.js";
import type { SagaCount } from "../operations/sagas.js";
import type { SagaInstance } from "../saga/instance.js";
import { CSRF_FIELD } from "./csrf.js";
import { html, type SafeHtml } from "./html.js";
import { age, json, notice, type PageContext, page, time } from "./layout.js";

/** A view's data, or why it could not be read (shown in its place; the other views still render). */
export type Read<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string; readonly code?: string };

function card(label: string, value: number | string, bad = false, id?: string): SafeHtml {
  return html`<div class="card${bad ? " bad" : ""}"${id === undefined ? "" : html` id="${id}"`}><div class="n">${value}</div><div class="l">${label}</div></div>`;
}

function failed(read: { readonly error: string }): SafeHtml {
  return notice("bad", read.error);
}

export function overviewPage(
  ctx: PageContext,
  counts: Read<DeadLetterCounts>,
  outbox: Read<OutboxBacklog> | undefined,
  inbox: Read<InboxStatus> | undefined,
  sagas: Read<SagaCount[]> | undefined,
): string {
  const dead = counts.ok
    ? html`<div class="cards">${card("dead letters", counts.value.total, counts.value.total > 0, "dead-letter-total")}${card("events", counts.value.byKind.event)}${card("commands", counts.value.byKind.command)}</div>
<table id="dead-letter-types"><thead><tr><th>kind</th><th>type</th><th class="num">dead letters</th></tr></thead><tbody>${
        counts.value.byType.length === 0
          ? html`<tr><td colspan="3" class="muted">none</td></tr>`
          : counts.value.byType.map(
              (t) =>
                html`<tr><td>${t.kind}</td><td><a href="${ctx.base}/dead-letters?kind=${t.kind}&amp;type=${encodeURIComponent(t.type)}">${t.type}</a></td><td class="num">${t.count}</td></tr>`,
            )
      }</tbody></table>`
    : failed(counts);
  const store =
    outbox === undefined || inbox === undefined || sagas === undefined
      ? html`<p class="muted">No PostgreSQL pool was given to the dashboard: the outbox, inbox and saga views are off.</p>`
      : html`<h3>Outbox</h3>${outbox.ok ? outboxCards(outbox.value) : failed(outbox)}
<h3>Inbox</h3>${inbox.ok ? inboxCards(inbox.value) : failed(inbox)}
<h3>Sagas</h3>${sagas.ok ? sagaCountTable(ctx, sagas.value) : failed(sagas)}`;
  return page(ctx, "overview", "Overview", html`<h3>Dead letters</h3>${dead}${store}`);
}

function outboxCards(backlog: OutboxBacklog): SafeHtml {
  return html`<div class="cards">${card("pending", backlog.pending, backlog.pending > 0, "outbox-pending")}${card("failing", backlog.failing, backlog.failing > 0)}${card("oldest pending", age(backlog.oldestPendingAt))}${card("sent (kept)", backlog.sent)}</div>`;
}

function inboxCards(inbox: InboxStatus): SafeHtml {
  return html`<div class="cards">${card("outcomes", inbox.outcomes, false, "inbox-outcomes")}${card("claims (running)", inbox.claims)}${card("expired", inbox.expired)}</div>`;
}

function sagaCountTable(ctx: PageContext, counts: readonly SagaCount[]): SafeHtml {
  return html`<table id="saga-counts"><thead><tr><th>saga</th><th>status</th><th class="num">instances</th><th>least recently updated</th></tr></thead><tbody>${
    counts.length === 0
      ? html`<tr><td colspan="4" class="muted">no saga instances</td></tr>`
      : counts.map(
          (c) =>
            html`<tr><td>${c.saga}</td><td><a href="${ctx.base}/sagas?saga=${encodeURIComponent(c.saga)}&amp;status=${encodeURIComponent(c.status)}">${c.status}</a></td><td class="num">${c.count}</td><td title="${time(c.oldestUpdatedAt)}">${age(c.oldestUpdatedAt)} ago</td></tr>`,
        )
  }</tbody></table>`;
}

export function outboxPage(ctx: PageContext, read: Read<OutboxBacklog>): string {
  if (!read.ok) return page(ctx, "outbox", "Outbox", failed(read));
  const backlog = read.value;
  const rows = backlog.rows.map(
    (
      r,
    ) => html`<tr><td class="num">${r.id}</td><td>${r.type}</td><td><code>${r.messageId}</code></td><td>${r.subject}</td>
<td title="${time(r.createdAt)}">${age(r.createdAt)} ago</td><td class="num">${r.attempts}</td><td>${r.lastError ?? "—"}</td><td>${time(r.nextAttemptAt)}</td></tr>`,
  );
  return page(
    ctx,
    "outbox",
    "Outbox",
    html`${outboxCards(backlog)}<p class="muted">The oldest ${backlog.rows.length} rows not published yet.</p>
<table id="outbox-rows"><thead><tr><th class="num">id</th><th>type</th><th>message id</th><th>subject</th><th>written</th><th class="num">attempts</th><th>last error</th><th>next attempt</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="8" class="muted">nothing pending</td></tr>` : rows}</tbody></table>`,
  );
}

export function inboxPage(ctx: PageContext, read: Read<InboxStatus>, keyPrefix: string): string {
  const form = html`<form class="filters" method="get" action="${ctx.base}/inbox"><label>key prefix<input name="keyPrefix" value="${keyPrefix}" placeholder="once:payments.capture:"></label><button type="submit" class="plain">Filter</button></form>`;
  if (!read.ok) return page(ctx, "inbox", "Inbox", html`${form}${failed(read)}`);
  const inbox = read.value;
  const rows = inbox.rows.map(
    (r) =>
      html`<tr><td><code>${r.key}</code></td><td>${r.state}</td><td>${r.owner ?? "—"}</td><td>${time(r.expiresAt)}</td><td>${r.expired ? "yes" : "no"}</td></tr>`,
  );
  return page(
    ctx,
    "inbox",
    "Inbox",
    html`${form}${inboxCards(inbox)}<table id="inbox-rows"><thead><tr><th>key</th><th>state</th><th>owner</th><th>expires</th><th>expired</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="5" class="muted">no rows</td></tr>` : rows}</tbody></table>`,
  );
}

/** Resume and Abort for a failed instance, when the caller operates and the saga has actions. */
function sagaActionForm(
  ctx: PageContext,
  saga: string,
  instance: SagaInstance,
  actionable: boolean,
): SafeHtml | string {
  if (!actionable || !ctx.canOperate || instance.status !== "failed") return "";
  return html`<form method="post" class="saga-actions" action="${ctx.base}/sagas/settle"><input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrf}"><input type="hidden" name="saga" value="${saga}"><input type="hidden" name="id" value="${instance.id}"><input name="reason" required placeholder="reason" aria-label="reason"><button name="action" value="resume">Resume</button><button name="action" value="abort">Abort</button></form>`;
}

export function sagasPage(
  ctx: PageContext,
  counts: Read<SagaCount[]>,
  instances: Read<SagaInstance[]> | undefined,
  query: { readonly saga: string; readonly status: string },
  actionable = false,
): string {
  const overview = counts.ok ? sagaCountTable(ctx, counts.value) : failed(counts);
  if (instances === undefined) return page(ctx, "sagas", "Sagas", overview);
  const list = instances.ok
    ? html`<table id="saga-instances"><thead><tr><th>id</th><th>status</th><th class="num">step</th><th>updated</th><th>error</th><th>state</th><th></th></tr></thead><tbody>${
        instances.value.length === 0
          ? html`<tr><td colspan="7" class="muted">none</td></tr>`
          : instances.value.map(
              (i) =>
                html`<tr><td><code>${i.id}</code></td><td>${i.status}</td><td class="num">${i.step}</td><td title="${time(i.updatedAt)}">${age(i.updatedAt)} ago</td><td>${
                  i.progress.error === undefined ? "—" : json(i.progress.error, 500)
                }</td><td><pre>${json(i.state, 2000)}</pre></td><td>${sagaActionForm(ctx, query.saga, i, actionable)}</td></tr>`,
            )
      }</tbody></table>`
    : failed(instances);
  return page(
    ctx,
    "sagas",
    "Sagas",
    html`${overview}<h3>${query.saga}${query.status === "" ? "" : ` (${query.status})`}</h3>${list}`,
  );
}

/** What a Resume or Abort did, with the way back to the saga's failed instances. */
export function sagaActionPage(
  ctx: PageContext,
  saga: string,
  id: string,
  action: "resume" | "abort",
): string {
  const done =
    action === "resume" ? `Resumed ${id}: it compensates again.` : `Aborted ${id}: nothing more runs.`;
  return page(
    ctx,
    "sagas",
    action === "resume" ? "Resumed" : "Aborted",
    html`${notice("ok", done)}<p><a id="back" href="${ctx.base}/sagas?saga=${encodeURIComponent(saga)}&amp;status=failed">← back to ${saga}'s failed instances</a></p>`,
  );
}
