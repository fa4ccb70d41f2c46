import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MetricNames } from "../../ts/entries/observability.js";

// docs/grafana/catga.json, the dashboard users import: valid, well-formed for Grafana, templated on
// the data source, charting only metrics the library emits (read from MetricNames, not a copy),
// and with a panel for every failure path docs/architecture/observability.md promises.

interface Target {
  readonly expr?: string;
  readonly datasource?: { readonly uid?: string };
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly uid?: string };
  readonly targets?: readonly Target[];
}
interface Dashboard {
  readonly title: string;
  readonly uid: string;
  readonly schemaVersion: number;
  readonly templating: { readonly list: readonly { name: string; type: string; query?: unknown }[] };
  readonly panels: readonly Panel[];
}

const dashboard = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "..", "docs", "grafana", "catga.json"), "utf8"),
) as Dashboard;
/** Grafana's reference to the `datasource` variable (a Grafana placeholder, not a JS template). */
const TEMPLATED = ["$", "{datasource}"].join("");
const charts = dashboard.panels.filter((panel) => panel.type !== "row");

/**
 * The library metric behind a Prometheus series name, or undefined: OTel's Prometheus mapping
 * turns dots into underscores, appends the unit (`_seconds`, `_bytes`) and, to a counter whose
 * name does not end in it already, `_total`; a histogram is read through `_bucket`, `_sum`, `_count`.
 */
const emitted = new Map(Object.values(MetricNames).map((name) => [name.replaceAll(".", "_"), name]));
function libraryName(series: string): string | undefined {
  const base = series.replace(/_(bucket|sum|count)$/, "");
  for (const candidate of [base, base.replace(/_total$/, "")]) {
    const name = emitted.get(candidate) ?? emitted.get(candidate.replace(/_(seconds|bytes)$/, ""));
    if (name !== undefined) return name;
  }
  return undefined;
}

function seriesOf(expr: string): string[] {
  // Metric names start with catga_; label names inside {…} and by (…) are cut out first.
  const withoutLabels = expr.replace(/\{[^}]*\}/g, "").replace(/\b(by|without)\s*\([^)]*\)/g, "");
  return [...withoutLabels.matchAll(/\bcatga_[a-z0-9_]+/g)].map((match) => match[0]);
}

const exprs = charts.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ""));

describe("the Grafana dashboard (docs/grafana/catga.json)", () => {
  it("is a dashboard with a title, a uid and panels with unique ids", () => {
    expect(dashboard.title).toBe("Catga");
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(charts.length).toBeGreaterThan(10);
  });

  it("has queries on every panel, all through the templated data source", () => {
    const variable = dashboard.templating.list.find((each) => each.type === "datasource");
    expect(variable).toMatchObject({ name: "datasource", query: "prometheus" });
    for (const panel of charts) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource?.uid, panel.title).toBe(TEMPLATED);
      for (const target of panel.targets ?? []) {
        expect(target.expr?.trim(), panel.title).toBeTruthy();
        expect(target.datasource?.uid, panel.title).toBe(TEMPLATED);
      }
    }
  });

  it("charts only metrics the library emits", () => {
    const series = exprs.flatMap(seriesOf);
    expect(series.length).toBeGreaterThan(0);
    const unknown = series.filter((name) => libraryName(name) === undefined);
    expect(unknown).toEqual([]);
  });

  it("has a panel for every failure path a user must see", () => {
    const charted = (metric: string, filter?: string) =>
      exprs.some(
        (expr) =>
          seriesOf(expr).some((name) => libraryName(name) === metric) &&
          (filter === undefined || expr.includes(filter)),
      );
    const failurePaths: Record<string, [metric: string, filter?: string][]> = {
      retries: [[MetricNames.retries]],
      "breaker transitions": [[MetricNames.breakerTransitions]],
      "rate-limit rejections": [[MetricNames.requestsFailed, "CATGA_RATE_LIMITED"]],
      timeouts: [[MetricNames.requestsFailed, "CATGA_TIMEOUT"]],
      "dropped messages": [
        [MetricNames.transportFramesDropped],
        [MetricNames.transportBackpressureRejections],
      ],
      "JetStream consumer lag": [[MetricNames.jetstreamConsumerPending]],
      redeliveries: [[MetricNames.jetstreamRedeliveries]],
      "ack latency": [[MetricNames.jetstreamAckLatency]],
      "outbox lag": [[MetricNames.outboxLag]],
      "dead-letter counts": [[MetricNames.deadLetters]],
    };
    const missing = Object.entries(failurePaths)
      .filter(([, needs]) => !needs.every(([metric, filter]) => charted(metric, filter)))
      .map(([path]) => path);
    expect(missing).toEqual([]);
  });
});
