// What must hold in PostgreSQL after any run, whatever the timing: each accepted order ended once,
// as scripted, and the stock and money ledgers balance. Each check is one line of the report.
import type pg from "pg";
import { INITIAL_STOCK } from "./catalog.js";
import type { Expected } from "./scenario.js";

export interface Check {
  readonly ok: boolean;
  readonly text: string;
}

interface OrderRow {
  id: string;
  status: string;
  amount: number;
  saga: string | null;
  reason: string | null;
  reserves: number;
  releases: number;
  charges: number;
  refunds: number;
  shipments: number;
}

/** Every order row with its saga and its ledger entries, counted. */
export async function orderRows(pool: pg.Pool, schema: string): Promise<OrderRow[]> {
  const s = `"${schema}"`;
  const { rows } = await pool.query(`
    SELECT o.id, o.status, o.amount, g.status AS saga, g.progress->'error'->>'code' AS reason,
      (SELECT count(*)::int FROM ${s}.stock_moves m WHERE m.order_id = o.id AND m.kind = 'reserve') AS reserves,
      (SELECT count(*)::int FROM ${s}.stock_moves m WHERE m.order_id = o.id AND m.kind = 'release') AS releases,
      (SELECT count(*)::int FROM ${s}.payments p WHERE p.order_id = o.id AND p.kind = 'charge') AS charges,
      (SELECT count(*)::int FROM ${s}.payments p WHERE p.order_id = o.id AND p.kind = 'refund') AS refunds,
      (SELECT count(*)::int FROM ${s}.shipments h WHERE h.order_id = o.id AND NOT h.cancelled) AS shipments
    FROM ${s}.orders o LEFT JOIN ${s}.catga_saga g ON g.saga = 'order' AND g.id = o.id
    ORDER BY o.id`);
  return rows;
}

function check(ok: boolean, text: string, broken: string[]): Check {
  return { ok, text: ok ? text : `${text}; broken: ${broken.slice(0, 5).join(", ")}` };
}

/**
 * `accepted`: the orders that must exist and end, with how each should end; `what` names them in
 * the first check's text (the chaos suite also checks orders written while their answer was lost).
 */
export async function checkInvariants(
  pool: pg.Pool,
  schema: string,
  accepted: ReadonlyMap<string, Expected>,
  what = "accepted orders",
): Promise<Check[]> {
  const s = `"${schema}"`;
  const rows = await orderRows(pool, schema);
  const checks: Check[] = [];

  // 1. The orders table holds exactly the accepted orders (nothing refused was written).
  const ids = new Set(rows.map((r) => r.id));
  const missing = [...accepted.keys()].filter((id) => !ids.has(id));
  const extra = [...ids].filter((id) => !accepted.has(id));
  checks.push(
    check(
      missing.length === 0 && extra.length === 0,
      `${accepted.size} ${what}, ${rows.length} order rows: the same ids`,
      [...missing.map((id) => `${id} missing`), ...extra.map((id) => `${id} not accepted`)],
    ),
  );

  // 2. One terminal state each, agreeing between the order row and its saga, and the one scripted.
  const wrongEnd = rows.filter((r) => {
    const ended =
      (r.status === "confirmed" && r.saga === "completed") ||
      (r.status === "cancelled" && r.saga === "compensated");
    const expected = accepted.get(r.id);
    const outcome = r.status === "confirmed" ? "confirmed" : r.reason;
    const asScripted =
      expected === "scarce"
        ? outcome === "confirmed" || outcome === "INVENTORY_OUT_OF_STOCK"
        : outcome === expected;
    return !ended || !asScripted;
  });
  checks.push(
    check(
      wrongEnd.length === 0,
      "every accepted order reached exactly one terminal state (order confirmed + saga completed, or cancelled + compensated), as scripted",
      wrongEnd.map((r) => `${r.id} ${r.status}/${r.saga}/${r.reason} expected ${accepted.get(r.id)}`),
    ),
  );

  // 3. Per order, the effects match the ending: what a cancelled order had done was undone once.
  const unbalanced = rows.filter((r) =>
    r.status === "confirmed"
      ? !(r.reserves === 1 && r.releases === 0 && r.charges === 1 && r.refunds === 0 && r.shipments === 1)
      : !(r.releases === r.reserves && r.refunds === r.charges && r.shipments === 0),
  );
  checks.push(
    check(
      unbalanced.length === 0,
      "per order: confirmed = reserved + charged + shipped; cancelled = every reservation released, every charge refunded, nothing shipped",
      unbalanced.map(
        (r) => `${r.id} ${r.status} ${r.reserves}/${r.releases}/${r.charges}/${r.refunds}/${r.shipments}`,
      ),
    ),
  );

  // 4. Stock: what is on hand = what there was − reserved + released, per sku.
  const { rows: stock } = await pool.query(`
    SELECT st.sku, st.on_hand,
      coalesce((SELECT sum(qty)::int FROM ${s}.stock_moves m WHERE m.sku = st.sku AND m.kind = 'reserve'), 0) AS reserved,
      coalesce((SELECT sum(qty)::int FROM ${s}.stock_moves m WHERE m.sku = st.sku AND m.kind = 'release'), 0) AS released
    FROM ${s}.stock st ORDER BY st.sku`);
  const offStock = stock.filter((r) => (INITIAL_STOCK[r.sku] ?? 0) - r.reserved + r.released !== r.on_hand);
  checks.push(
    check(
      offStock.length === 0,
      "stock ledger balances: initial − reserved + released = on hand, for every sku",
      offStock.map((r) => `${r.sku}: ${INITIAL_STOCK[r.sku]} − ${r.reserved} + ${r.released} ≠ ${r.on_hand}`),
    ),
  );

  // 5. Money: charged − refunded = the total of the confirmed orders.
  const { rows: money } = await pool.query(`
    SELECT coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0)::int AS charged,
           coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0)::int AS refunded
    FROM ${s}.payments`);
  const { charged, refunded } = money[0];
  const confirmed = rows.filter((r) => r.status === "confirmed").reduce((sum, r) => sum + r.amount, 0);
  checks.push(
    check(
      charged - refunded === confirmed,
      "payment ledger balances: charged − refunded = total of confirmed orders",
      [`${charged} − ${refunded} ≠ ${confirmed}`],
    ),
  );

  // 6. The outbox: every OrderPlaced was relayed, none is left behind.
  const { rows: outbox } = await pool.query(
    `SELECT count(*) FILTER (WHERE sent_at IS NULL)::int AS pending, count(*)::int AS total FROM ${s}.catga_outbox`,
  );
  checks.push(
    check(
      outbox[0].pending === 0 && outbox[0].total === accepted.size,
      "outbox: one OrderPlaced row per accepted order, all relayed",
      [`${outbox[0].total} rows, ${outbox[0].pending} pending`],
    ),
  );
  return checks;
}
