// The messages the five services exchange: one declaration each, shared by the sender and the
// handler (in a real system, a contracts package every service depends on).
import { z } from "zod";
import { defineCommand, defineEvent, defineQuery } from "../../dist/index.js";

/** What a customer posts to the gateway; the schema runs where the command is handled. */
export const PlaceOrder = defineCommand(
  "orders.place",
  z.object({
    customer: z.string().min(1),
    sku: z.string().min(1),
    qty: z.number().int().min(1).max(10),
    /** A payment provider's token; `tok_chargeDeclined` is always declined (a test card). */
    paymentToken: z.string().min(1),
    /** Where to ship; the carrier does not deliver to "Atlantis". */
    country: z.string().min(1),
  }),
).returns<{ orderId: string; amount: number }>();

/** Written to the outbox in the transaction that inserts the order row; it starts the saga. */
export const OrderPlaced = defineEvent("orders.placed").payload<{
  orderId: string;
  sku: string;
  qty: number;
  amount: number;
  paymentToken: string;
  country: string;
}>();

export type OrderStatus = "placed" | "processing" | "confirmed" | "cancelled";

export interface OrderView {
  orderId: string;
  sku: string;
  qty: number;
  amount: number;
  status: OrderStatus;
  /** Why a cancelled order was cancelled: the code of the step that failed. */
  reason?: string;
  trackingId?: string;
}

export const GetOrder = defineQuery("orders.get").payload<{ orderId: string }>().returns<OrderView>();

// The saga's own steps in the orders service: the order row's state machine.
export const StartProcessing = defineCommand("orders.start-processing").payload<{ orderId: string }>();
export const CancelOrder = defineCommand("orders.cancel").payload<{ orderId: string }>();
export const ConfirmOrder = defineCommand("orders.confirm").payload<{ orderId: string }>();

// Inventory.
export const ReserveStock = defineCommand("inventory.reserve")
  .payload<{ orderId: string; sku: string; qty: number }>()
  .returns<{ reserved: number }>();
export const ReleaseStock = defineCommand("inventory.release").payload<{ orderId: string }>();

// Payments. A refund is durable: stored on JetStream, it survives payments being down for a while.
export const ChargePayment = defineCommand("payments.charge")
  .payload<{ orderId: string; amount: number; paymentToken: string }>()
  .returns<{ paymentId: string }>();
export const RefundPayment = defineCommand("payments.refund").payload<{ orderId: string }>().durable();

// Shipping.
export const ShipOrder = defineCommand("shipping.ship")
  .payload<{ orderId: string; sku: string; qty: number; country: string }>()
  .returns<{ trackingId: string }>();
/**
 * Undoes `ship` when the saga compensates after it: a ship step that timed out may have booked the
 * shipment all the same (its answer was lost), so a cancelled order must cancel it (found by
 * benches/chaos-orders.mjs: an order cancelled after a lost answer, and shipped).
 */
export const CancelShipment = defineCommand("shipping.cancel").payload<{ orderId: string }>();
