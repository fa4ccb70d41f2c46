// Shared by both processes (in a real system: a contracts package both services depend on).
import { defineQuery } from "../../dist/index.js";

export const GetQuote = defineQuery("pricing.quote")
  .payload<{ sku: string; quantity: number }>()
  .returns<{ cents: number; servedBy: number }>();
