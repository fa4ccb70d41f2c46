// The scripted traffic: 100 orders through the gateway, some bound to fail at a given step, plus
// two the gateway refuses. Each order says what should become of it, for the checks.
import type { InputOf } from "../../dist/index.js";
import type { PlaceOrder } from "./contracts.js";

/**
 * How an order should end: confirmed, or cancelled with the code of the step that failed. Lamps are
 * `scarce`: which of them get the three in stock depends on arrival, so each ends confirmed or
 * INVENTORY_OUT_OF_STOCK, and exactly three are confirmed.
 */
export type Expected = "confirmed" | "PAYMENT_DECLINED" | "SHIPPING_UNREACHABLE" | "scarce";

export interface ScriptedOrder {
  readonly body: InputOf<typeof PlaceOrder>;
  readonly expected: Expected;
}

const ORDERS = 100;
const COUNTRIES = ["NL", "DE", "FR", "JP"];

/** 100 orders: 8 lamps (3 in stock), 9 with a declined card, 11 to Atlantis, 72 that go through. */
export function script(): ScriptedOrder[] {
  const orders: ScriptedOrder[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const customer = `customer-${(i % 17) + 1}`;
    // Every twelfth order, from the seventh, is a lamp, with a good card and a reachable address.
    if (i % 12 === 6) {
      const body = { customer, sku: "lamp", qty: 1, paymentToken: "tok_visa", country: "NL" };
      orders.push({ body, expected: "scarce" });
      continue;
    }
    const declined = i % 9 === 0;
    const unreachable = !declined && i % 9 === 4;
    orders.push({
      body: {
        customer,
        sku: i % 2 === 0 ? "tea" : "mug",
        qty: (i % 3) + 1,
        paymentToken: declined ? "tok_chargeDeclined" : "tok_visa",
        country: unreachable ? "Atlantis" : (COUNTRIES[i % 4] ?? "NL"),
      },
      expected: declined ? "PAYMENT_DECLINED" : unreachable ? "SHIPPING_UNREACHABLE" : "confirmed",
    });
  }
  return orders;
}

/** Bodies the gateway must refuse before anything is written. */
export const REFUSED: readonly { body: unknown; status: number; code: string }[] = [
  {
    body: { customer: "c-x", sku: "tea", qty: 0, paymentToken: "tok_visa", country: "NL" },
    status: 400,
    code: "CATGA_VALIDATION",
  },
  {
    body: { customer: "c-y", sku: "sofa", qty: 1, paymentToken: "tok_visa", country: "NL" },
    status: 422,
    code: "ORDERS_UNKNOWN_SKU",
  },
];

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inParallel<Item, Value>(
  items: readonly Item[],
  limit: number,
  work: (item: Item) => Promise<Value>,
): Promise<Value[]> {
  const values: Value[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      values[index] = await work(items[index] as Item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return values;
}
