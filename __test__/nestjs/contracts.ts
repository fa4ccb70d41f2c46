import { defineCommand, defineEvent, defineQuery } from "../../ts/index.js";

export const ReserveStock = defineCommand("stock.reserve")
  .payload<{ sku: string; quantity: number }>()
  .returns<{ left: number }>();
export const GetStock = defineQuery("stock.get").payload<{ sku: string }>().returns<number>();
export const StockReserved = defineEvent("stock.reserved").payload<{ sku: string; left: number }>();
/** A command no handler in these tests handles. */
export const Unhandled = defineCommand("orders.unhandled").payload<{ id: string }>();
/** A command whose handler waits until the test lets it finish (shutdown tests). */
export const Hold = defineCommand("stock.hold").payload<{ n: number }>().returns<{ n: number }>();
