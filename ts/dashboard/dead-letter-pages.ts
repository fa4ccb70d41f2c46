/** The dead-letter pages: the filtered list with bulk actions, one dead letter, and an action's outcome. */
import type { DeadLetter } from "../operations/dead-letter.js";
import type { DeadLetterCounts, DeadLetterPage, ReplayReport } from "../operations/dead-letters.js";
import { CSRF_FIELD } from "./csrf.js";
import { html, type SafeHtml } from "./html.js";
import { age, hexDump, json, notice, type PageContext, page, time } from "./layout.js";

/** The list filters a page was asked for (strings as typed; `""` is "any"). */
export interface ListFilter {
  readonly kind: string;
  readonly type: string;
  readonly code: string;
  readonly consumer: string;
}

export const FILTER_FIELDS = ["kind", "type", "code", "consumer"] as const;

export function filterQuery(filter: ListFilter, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const key of FILTER_FIELDS) if (filter[key] !== "") query.set(key, filter[key]);
  for (const [key, value] of Object.entries(extra)) query.set(key, value);
  const text = query.toString();
  return text === "" ? "" : `?${text}`;
}

function isEmpty(filter: ListFilter): boolean {
  return FILTER_FIELDS.every((key) => filter[key] === "");
}

function hiddenFilter(filter: ListFilter): SafeHtml {
  return html`${FILTER_FIELDS.map((key) =>
    filter[key] === "" ? "" : html`<input type="hidden" name="${key}" value="${filter[key]}">`,
  )}`;
}

function csrfInput(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrf}">`;
}

function kindBadge(kind: string): SafeHtml {
  return html`<span class="badge ${kind === "command" ? "command" : "event"}">${kind}</span>`;
}

export function deadLetterListPage(
  ctx: PageContext,
  filter: ListFilter,
  result: DeadLetterPage,
  counts: DeadLetterCounts,
  after: string | undefined,
): string {
  const types = [...new Set(counts.byType.map((t) => t.type))];
  const kindOption = (value: string, label: string) =>
    html`<option value="${value}"${filter.kind === value ? html` selected` : ""}>${label}</option>`;
  const filters = html`<form class="filters" method="get" action="${ctx.base}/dead-letters">
<label>kind<select name="kind">${kindOption("", "any")}${kindOption("event", "event")}${kindOption("command", "command")}</select></label>
<label>type<input name="type" list="catga-types" value="${filter.type}" placeholder="orders.placed"></label>
<datalist id="catga-types">${types.map((t) => html`<option value="${t}">`)}</datalist>
<label>error code<input name="code" value="${filter.code}" placeholder="CATGA_HANDLER_FAILED"></label>
<label>consumer<input name="consumer" value="${filter.consumer}" placeholder="billing-orders_placed"></label>
<button type="submit" class="plain" id="apply-filters">Filter</button>
<a href="${ctx.base}/dead-letters">clear</a>
</form>`;

  const rows = result.items.map(
    (item) => html`<tr data-id="${item.id}">
${ctx.canOperate ? html`<td><input type="checkbox" name="id" value="${item.id}" aria-label="select ${item.id}"></td>` : ""}
<td><a href="${ctx.base}/dead-letters/${item.id}">${item.id}</a></td>
<td>${kindBadge(item.kind)}</td>
<td>${item.decodable ? item.type : html`<span class="muted">(not an envelope)</span>`}</td>
<td><code>${item.errorCode}</code><div class="muted">${truncate(item.errorMessage, 160)}</div></td>
<td class="num">${item.deliveries}</td>
<td>${item.consumer ?? "—"}</td>
<td title="${time(item.deadLetteredAt)}">${age(item.deadLetteredAt)} ago</td>
</tr>`,
  );
  const everything = isEmpty(filter);
  const table = html`<table id="dead-letters">
<thead><tr>${ctx.canOperate ? html`<th><input type="checkbox" data-select-all aria-label="select all"></th>` : ""}<th>id</th><th>kind</th><th>type</th><th>error</th><th class="num">deliveries</th><th>consumer</th><th>dead-lettered</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="8" class="muted">No dead letters${everything ? "" : " match these filters"}.</td></tr>` : rows}</tbody>
</table>`;

  const paging = html`<p class="actions">${
    after === undefined ? "" : html`<a href="${ctx.base}/dead-letters${filterQuery(filter)}">first page</a>`
  }${
    result.next === undefined
      ? ""
      : html`<a id="next-page" href="${ctx.base}/dead-letters${filterQuery(filter, { after: result.next })}">next page</a>`
  }</p>`;

  const summary = html`<p class="muted">${plural(counts.total, "dead letter")} in all (${plural(counts.byKind.event, "event")}, ${plural(counts.byKind.command, "command")}).</p>`;
  if (!ctx.canOperate)
    return page(ctx, "dead-letters", "Dead letters", html`${summary}${filters}${table}${paging}`);

  const scope = everything ? "all" : "filter";
  const matching = everything ? "every dead letter" : "every dead letter matching these filters";
  const actions = html`<div class="actions">
<button type="submit" formaction="${ctx.base}/dead-letters/replay" name="scope" value="selected" data-needs-selection data-confirm="Replay the selected dead letters?">Replay selected</button>
<button type="submit" formaction="${ctx.base}/dead-letters/purge" name="scope" value="selected" class="danger" data-needs-selection data-confirm="Purge the selected dead letters for good?">Purge selected</button>
<button type="submit" formaction="${ctx.base}/dead-letters/replay" name="scope" value="${scope}" class="plain" data-confirm="Replay ${matching}?">Replay ${everything ? "all" : "all matching"}</button>
<button type="submit" formaction="${ctx.base}/dead-letters/purge" name="scope" value="${scope}" class="plain" data-confirm="Purge ${matching} for good?">Purge ${everything ? "all" : "all matching"}</button>
</div>`;
  return page(
    ctx,
    "dead-letters",
    "Dead letters",
    html`${summary}${filters}<form method="post" action="${ctx.base}/dead-letters/replay" id="dead-letter-actions">${csrfInput(ctx)}${hiddenFilter(filter)}${actions}${table}</form>${paging}`,
  );
}

export function deadLetterPage(ctx: PageContext, letter: DeadLetter): string {
  const field = (name: string, value: SafeHtml | string | number | undefined) =>
    html`<dt>${name}</dt><dd>${value === undefined || value === "" ? "—" : value}</dd>`;
  const facts = html`<dl id="facts">
${field("id", letter.id)}${field("kind", kindBadge(letter.kind))}${field("type", letter.type)}
${field("message id", letter.messageId)}${field("correlation id", letter.correlationId)}${field("causation id", letter.causationId)}
${field("trace id", letter.traceId === undefined ? undefined : html`<code id="trace-id">${letter.traceId}</code>`)}
${field("error code", html`<code>${letter.errorCode}</code>`)}${field("error message", letter.errorMessage)}
${field("deliveries", letter.deliveries)}${field("consumer", letter.consumer)}
${field("original subject", letter.originalSubject)}${field("original sequence", letter.originalSequence)}
${field("created", time(letter.createdAt))}${field("dead-lettered", time(letter.deadLetteredAt))}
${field("codec", letter.codec)}${field("payload", `${letter.payloadBytes} bytes`)}
</dl>`;
  const body =
    letter.body !== undefined
      ? html`<h3>Payload (${letter.codec}, decoded)</h3><pre id="payload">${json(letter.body)}</pre>`
      : html`<h3>Payload (${letter.decodable ? letter.codec : "raw bytes"})</h3><pre id="payload">${hexDump(letter.payload)}</pre>`;
  const headers = (title: string, id: string, record: Readonly<Record<string, string>>) =>
    html`<h3>${title}</h3><table id="${id}"><tbody>${
      Object.keys(record).length === 0
        ? html`<tr><td class="muted">none</td></tr>`
        : Object.entries(record).map(([k, v]) => html`<tr><th>${k}</th><td><code>${v}</code></td></tr>`)
    }</tbody></table>`;
  const actions = ctx.canOperate
    ? html`<form method="post" class="actions" action="${ctx.base}/dead-letters/replay">${csrfInput(ctx)}
<input type="hidden" name="scope" value="selected"><input type="hidden" name="id" value="${letter.id}">
<button type="submit" id="replay-one" ${letter.decodable ? "" : html`disabled title="not a Catga envelope: it cannot be replayed"`} data-confirm="Replay ${letter.id}?">Replay</button>
<button type="submit" id="purge-one" class="danger" formaction="${ctx.base}/dead-letters/purge" data-confirm="Purge ${letter.id} for good?">Purge</button>
</form>`
    : "";
  return page(
    ctx,
    "dead-letters",
    `Dead letter ${letter.id}`,
    html`<p><a href="${ctx.base}/dead-letters">← all dead letters</a></p>${actions}${facts}${body}${headers(
      "Envelope headers",
      "headers",
      letter.headers,
    )}${headers("Dead-letter headers", "dead-letter-headers", letter.deadLetterHeaders)}`,
  );
}

/** What a replay or purge did, with a way back to the list it came from. */
export function actionResultPage(
  ctx: PageContext,
  action: "replay" | "purge",
  filter: ListFilter,
  outcome: ReplayReport | { readonly purged: number },
): string {
  const back = html`<p><a id="back" href="${ctx.base}/dead-letters${filterQuery(filter)}">← back to the dead letters</a></p>`;
  if (action === "purge") {
    const { purged } = outcome as { purged: number };
    return page(
      ctx,
      "dead-letters",
      "Purged",
      html`${notice("ok", `Purged ${purged} dead letter${purged === 1 ? "" : "s"}.`)}${back}`,
    );
  }
  const report = outcome as ReplayReport;
  const replayed = report.replayed.length;
  const failed =
    report.failed.length === 0
      ? ""
      : html`${notice("bad", `${report.failed.length} could not be replayed; they stay in the dead letters.`)}
<table id="replay-failures"><thead><tr><th>id</th><th>code</th><th>why</th></tr></thead><tbody>${report.failed.map(
          (f) =>
            html`<tr><td><a href="${ctx.base}/dead-letters/${f.id}">${f.id}</a></td><td><code>${f.code}</code></td><td>${f.message}</td></tr>`,
        )}</tbody></table>`;
  return page(
    ctx,
    "dead-letters",
    "Replayed",
    html`${notice("ok", `Replayed ${replayed} dead letter${replayed === 1 ? "" : "s"}.`)}${
      replayed === 0
        ? ""
        : html`<table id="replayed"><thead><tr><th>id</th><th>type</th><th>message id</th></tr></thead><tbody>${report.replayed.map(
            (r) => html`<tr><td>${r.id}</td><td>${r.type}</td><td><code>${r.messageId}</code></td></tr>`,
          )}</tbody></table>`
    }${failed}${back}`,
  );
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
