/** The Cluster page: the members this process sees, from their heartbeats (docs/architecture/cluster.md). */
import type { Member } from "../cluster/membership.js";
import { html } from "./html.js";
import { age, type PageContext, page, time } from "./layout.js";

export function clusterPage(ctx: PageContext, members: readonly Omit<Member, "self">[]): string {
  const services = new Set(members.map((m) => m.service)).size;
  const rows = [...members].sort(
    (a, b) => a.service.localeCompare(b.service) || a.instanceId.localeCompare(b.instanceId),
  );
  return page(
    ctx,
    "cluster",
    "Cluster",
    html`<p class="muted">${members.length} instance${members.length === 1 ? "" : "s"} of ${services} service${
      services === 1 ? "" : "s"
    }, as this process sees them (each is dropped after 1.5 of its heartbeat intervals of silence).</p>
<table id="cluster-members"><thead><tr><th>service</th><th>instance</th><th>version</th><th class="num">weight</th><th class="num">load</th><th class="num">heartbeat</th><th>started</th><th>sharded types</th></tr></thead><tbody>${
      rows.length === 0
        ? html`<tr><td colspan="8" class="muted">none</td></tr>`
        : rows.map(
            (m) =>
              html`<tr><td>${m.service}</td><td><code>${m.instanceId}</code></td><td>${m.version}</td><td class="num">${m.weight}</td><td class="num">${m.load}</td><td class="num">${m.heartbeatMs} ms</td><td title="${time(m.startedAt)}">${age(m.startedAt)} ago</td><td>${m.shards.join(" ") || "—"}</td></tr>`,
          )
    }</tbody></table>`,
  );
}
