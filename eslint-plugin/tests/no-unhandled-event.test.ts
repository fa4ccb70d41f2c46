import rule from "../src/rules/no-unhandled-event.js";
import { asEslintRule, typed, typedFile, untyped } from "./helpers.js";

const SETUP = `
import { AuditLogged } from "./handlers.js";
interface EventToken<N extends string> { readonly kind: "event"; readonly type: N; readonly delivery: undefined }
interface CommandToken<N extends string> { readonly kind: "command"; readonly type: N; readonly delivery: "request" }
declare const Placed: EventToken<"orders.placed">;
declare const Shipped: EventToken<"orders.shipped">;
declare const Paid: EventToken<"billing.paid">;
declare const Place: CommandToken<"orders.place">;
declare const b: { handle(c: unknown, h: () => void): typeof b; remote(...c: unknown[]): typeof b };
declare const ctx: { publish(c: unknown, p: unknown): Promise<unknown>; send(c: unknown, p: unknown): Promise<unknown> };
b.handle(Placed, () => {}).remote(Place, Paid);
`;

typed.run("no-unhandled-event", asEslintRule(rule), {
  valid: [
    { name: "handled in this file", code: `${SETUP} void ctx.publish(Placed, {});`, filename: typedFile },
    { name: "declared remote", code: `${SETUP} void ctx.publish(Paid, {});`, filename: typedFile },
    {
      name: "handled in another file",
      code: `${SETUP} void ctx.publish(AuditLogged, {});`,
      filename: typedFile,
    },
    { name: "a command is not an event", code: `${SETUP} void ctx.send(Place, {});`, filename: typedFile },
  ],
  invalid: [
    {
      name: "nobody handles orders.shipped",
      code: `${SETUP} async function f() { await ctx.publish(Shipped, {}); }`,
      filename: typedFile,
      errors: [{ messageId: "unhandled", data: { type: "orders.shipped" } }],
    },
  ],
});

untyped.run("no-unhandled-event (without types: silent)", asEslintRule(rule), {
  valid: ["ctx.publish(Shipped, {});"],
  invalid: [],
});
