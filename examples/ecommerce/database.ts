// The shop's tables, created afresh by the launcher for each run. In production each service owns
// and migrates its own tables; here they share one schema so the checks can join them.
import type pg from "pg";
import { migrate } from "../../dist/persistence.js";
import { INITIAL_STOCK } from "./catalog.js";

export async function resetDatabase(pool: pg.Pool, schema: string): Promise<void> {
  const s = `"${schema}"`;
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await migrate(pool, { schema }); // catga_outbox, catga_inbox, catga_saga
  await pool.query(`
    CREATE SEQUENCE ${s}.order_numbers;
    -- orders: the order and its state machine, placed → processing → confirmed | cancelled
    CREATE TABLE ${s}.orders (
      id text PRIMARY KEY DEFAULT 'o-' || nextval('${schema}.order_numbers'),
      customer text NOT NULL,
      sku text NOT NULL,
      qty int NOT NULL,
      amount int NOT NULL,
      status text NOT NULL DEFAULT 'placed' CHECK (status IN ('placed', 'processing', 'confirmed', 'cancelled')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    -- inventory: what is on hand, and every reservation and release (one of each per order at most)
    CREATE TABLE ${s}.stock (sku text PRIMARY KEY, on_hand int NOT NULL CHECK (on_hand >= 0));
    CREATE TABLE ${s}.stock_moves (
      order_id text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('reserve', 'release')),
      sku text NOT NULL,
      qty int NOT NULL,
      UNIQUE (order_id, kind)
    );
    -- payments: charges and refunds, in cents (one of each per order at most)
    CREATE TABLE ${s}.payments (
      id bigserial PRIMARY KEY,
      order_id text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('charge', 'refund')),
      amount int NOT NULL,
      UNIQUE (order_id, kind)
    );
    -- shipping: one shipment per order; a cancelled one stays as a tombstone (tracking_id NULL if it
    -- was cancelled before it was booked: a late booking then finds it and books nothing)
    CREATE TABLE ${s}.shipments (
      order_id text PRIMARY KEY,
      tracking_id text,
      cancelled boolean NOT NULL DEFAULT false
    );
  `);
  for (const [sku, onHand] of Object.entries(INITIAL_STOCK))
    await pool.query(`INSERT INTO ${s}.stock (sku, on_hand) VALUES ($1, $2)`, [sku, onHand]);
}
