import rule from "../src/rules/require-idempotency-for-durable.js";
import { asEslintRule, CATGA_TYPES, typed, typedFile, untyped } from "./helpers.js";

const CONTRACTS =
  'const Capture = defineCommand("payments.capture").durable();\nconst Place = defineCommand("orders.place").returns();\nconst Placed = defineEvent("orders.placed");\n';

untyped.run("require-idempotency-for-durable (by names)", asEslintRule(rule), {
  valid: [
    `${CONTRACTS}createCatga({ transport }).withIdempotency({ store }).handle(Capture, h).build();`,
    `${CONTRACTS}createCatga({ transport }).handle(Capture, h).withIdempotency({ store });`,
    // in process only: one delivery per send
    `${CONTRACTS}createCatga().handle(Place, h).build();`,
    // exactlyOnce records the outcome in the handler's transaction: idempotent by itself
    `${CONTRACTS}createCatga({ transport }).handle(Capture, exactlyOnce(pool, work)).build();`,
    `${CONTRACTS}createCatga({ transport }).handle(Place, exactlyOnce(pool, work, { schema })).build();`,
    // events are not commands
    `${CONTRACTS}createCatga({ transport }).handle(Placed, h).build();`,
  ],
  invalid: [
    {
      code: `${CONTRACTS}createCatga().handle(Capture, h).build();`,
      errors: [{ messageId: "durable", data: { type: "Capture" } }],
    },
    {
      code: `${CONTRACTS}createCatga({ transport: t }).handle(Place, h).handle(Placed, g).build();`,
      errors: [{ messageId: "transport", data: { type: "Place" } }],
    },
    {
      // only a handler that is the exactlyOnce call itself counts
      code: `${CONTRACTS}createCatga().handle(Capture, (p, ctx) => once(p, ctx)).build();`,
      errors: [{ messageId: "durable", data: { type: "Capture" } }],
    },
    {
      code: `createCatga().handle(defineCommand("a.b").durable(), h);`,
      errors: [{ messageId: "durable" }],
    },
  ],
});

typed.run("require-idempotency-for-durable (by types)", asEslintRule(rule), {
  valid: [
    {
      name: "typed: an imported request command without a transport",
      code: `${CATGA_TYPES} declare function createCatga(o?: object): any; createCatga().handle(PlaceOrder, () => {});`,
      filename: typedFile,
    },
  ],
  invalid: [
    {
      name: "typed: a durable command whose definition is elsewhere",
      code: `${CATGA_TYPES} declare function createCatga(o?: object): any; createCatga().handle(Capture, () => {});`,
      filename: typedFile,
      errors: [{ messageId: "durable" }],
    },
  ],
});
