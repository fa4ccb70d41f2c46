import rule from "../src/rules/no-floating-result.js";
import { asEslintRule, CATGA_TYPES, typed, typedFile, untyped } from "./helpers.js";

untyped.run("no-floating-result (by names)", asEslintRule(rule), {
  valid: [
    "async function h(ctx) { await ctx.send(PlaceOrder, {}); }",
    "async function h(ctx) { const r = await ctx.publish(OrderPlaced, {}); return r; }",
    "function h(ctx) { return ctx.query(GetOrder, {}); }",
    "function h(ctx) { void ctx.publish(OrderPlaced, {}); }",
    "async function h(ctx) { await Promise.all([ctx.send(A, {}), ctx.send(B, {})]); }",
    "async function h(items, ctx) { const all = await Promise.all(items.map((i) => ctx.send(PlaceOrder, i))); }",
    // not a mediator: express's res.send, a SQL query helper
    "function h(res) { res.send('ok'); }",
    "async function h(db) { query('select 1'); db.query(sql); }",
  ],
  invalid: [
    {
      code: "const h = async (payload, ctx) => { ctx.publish(OrderPlaced, payload); };",
      output: "const h = async (payload, ctx) => { await ctx.publish(OrderPlaced, payload); };",
      errors: [{ messageId: "floating", data: { name: "ctx.publish" } }],
    },
    {
      code: "class S { async run() { this.catga.send(PlaceOrder, {}); } }",
      output: "class S { async run() { await this.catga.send(PlaceOrder, {}); } }",
      errors: [{ messageId: "floating" }],
    },
    {
      // a bare call counts when its first argument is a contract token
      code: "async function h({ publish }) { publish(OrderPlaced, {}); }",
      output: "async function h({ publish }) { await publish(OrderPlaced, {}); }",
      errors: [{ messageId: "floating", data: { name: "publish" } }],
    },
    {
      // forEach drops the callback's value: report only (the fix is a different loop)
      code: "async function h(items, ctx) { items.forEach((i) => ctx.send(PlaceOrder, i)); }",
      output: null,
      errors: [{ messageId: "inForEach", data: { name: "ctx.send" } }],
    },
    {
      code: 'const X = defineQuery("x.get"); async function h(m) { m.query(X, {}); }',
      output: 'const X = defineQuery("x.get"); async function h(m) { await m.query(X, {}); }',
      errors: [{ messageId: "floating", data: { name: "m.query" } }],
    },
    {
      // not async: no fix, suggestions only (making it async changes what the function returns)
      code: "function h(payload, ctx) { ctx.send(PlaceOrder, payload); }",
      output: null,
      errors: [
        {
          messageId: "floating",
          suggestions: [
            {
              messageId: "makeAsync",
              output: "async function h(payload, ctx) { await ctx.send(PlaceOrder, payload); }",
            },
            {
              messageId: "discard",
              output: "function h(payload, ctx) { void ctx.send(PlaceOrder, payload); }",
            },
          ],
        },
      ],
    },
    {
      code: "const o = { m(ctx) { ctx.send(PlaceOrder, {}); } };",
      output: null,
      errors: [
        {
          messageId: "floating",
          suggestions: [
            {
              messageId: "makeAsync",
              output: "const o = { async m(ctx) { await ctx.send(PlaceOrder, {}); } };",
            },
            { messageId: "discard", output: "const o = { m(ctx) { void ctx.send(PlaceOrder, {}); } };" },
          ],
        },
      ],
    },
    {
      code: "catga.publish(OrderPlaced, {});",
      output: null,
      errors: [
        {
          messageId: "floating",
          suggestions: [
            { messageId: "awaitIt", output: "await catga.publish(OrderPlaced, {});" },
            { messageId: "discard", output: "void catga.publish(OrderPlaced, {});" },
          ],
        },
      ],
    },
  ],
});

typed.run("no-floating-result (by types)", asEslintRule(rule), {
  valid: [
    // same names, but the callee does not resolve to Promise<Result>
    {
      name: "typed: a send that resolves to void is not a Result",
      code: `${CATGA_TYPES} declare const ctx: { send(x: unknown): Promise<void> }; async function h() { ctx.send(1); }`,
      filename: typedFile,
    },
    {
      name: "typed: an awaited send",
      code: `${CATGA_TYPES} declare const catga: Mediator; async function h() { await catga.send(PlaceOrder, {}); }`,
      filename: typedFile,
    },
  ],
  invalid: [
    {
      name: "typed: any receiver name, the type says it is a mediator",
      code: `${CATGA_TYPES} declare const bus: Mediator; async function h() { bus.publish(OrderPlaced, {}); }`,
      output: `${CATGA_TYPES} declare const bus: Mediator; async function h() { await bus.publish(OrderPlaced, {}); }`,
      filename: typedFile,
      errors: [{ messageId: "floating", data: { name: "bus.publish" } }],
    },
  ],
});
