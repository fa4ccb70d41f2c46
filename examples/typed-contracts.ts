// Typed contracts with Standard Schema: one contract per validation library (zod, valibot,
// arktype), no adapter. Callers pass the schema's *input*; handlers get its *output* (defaults
// applied, transforms run), because the `validation` behavior hands the parsed value on.
// Run: npm run example:typed-contracts
import { type } from "arktype";
import * as v from "valibot";
import { z } from "zod";
import { createCatga, defineCommand, defineQuery, ErrorCodes, hasErrorCode } from "../dist/index.js";

// zod: `quantity` may be left out by callers; the handler always sees a number.
const PlaceOrder = defineCommand(
  "orders.place",
  z.object({ sku: z.string().min(1), quantity: z.number().int().positive().default(1) }),
).returns<{ orderId: string; quantity: number }>();

// valibot: the transform runs before the handler, so it receives a trimmed, lower-case email.
const Subscribe = defineCommand(
  "newsletter.subscribe",
  v.object({ email: v.pipe(v.string(), v.trim(), v.toLowerCase(), v.email()) }),
).returns<string>();

// arktype: a query with a constrained string; the result type comes from `.returns<R>()`.
const GetStock = defineQuery("stock.get", type({ sku: "string >= 3" })).returns<{
  sku: string;
  left: number;
}>();

const catga = createCatga()
  .withValidation() // on in the development and production presets; without it schemas are not run
  .handle(PlaceOrder, ({ sku, quantity }) => ({ orderId: `o-${sku}`, quantity }))
  .handle(Subscribe, ({ email }) => email)
  .handle(GetStock, ({ sku }) => ({ sku, left: 7 }))
  .build();

console.log("zod", (await catga.send(PlaceOrder, { sku: "book" })).unwrap());
console.log("valibot", (await catga.send(Subscribe, { email: "  Ada@Example.COM " })).unwrap());
console.log("arktype", (await catga.query(GetStock, { sku: "tea" })).unwrap());

// Invalid input never reaches a handler: the call resolves to CATGA_VALIDATION whose `details`
// list the schema's issues by path (`hasErrorCode` narrows `details` to that shape).
const invalid = [
  await catga.send(PlaceOrder, { sku: "", quantity: -2 }),
  await catga.send(Subscribe, { email: "not-an-email" }),
  await catga.query(GetStock, { sku: "x" }),
];
for (const result of invalid) {
  if (!result.ok && hasErrorCode(result.error, ErrorCodes.VALIDATION)) {
    const paths = result.error.details.issues.map((issue) => issue.path || "(root)");
    console.log(result.error.code, paths.join(", "));
  }
}

// What the compiler catches (uncomment to see): a number where the schema wants a string.
// await catga.send(Subscribe, { email: 42 });
