import rule from "../src/rules/bounded-saga-state.js";
import { asEslintRule, typed, typedFile, untyped } from "./helpers.js";

const SAGA = "declare function defineSaga<State extends object>(name: string): { name: string };\n";
const at = (code: string) => ({ code: `${SAGA}${code}`, filename: typedFile });

typed.run("bounded-saga-state", asEslintRule(rule), {
  valid: [
    at('interface S { orderId: string; amount: number; paid?: boolean; at?: Date }\ndefineSaga<S>("order");'),
    // tuples, literal unions and records over a closed key set have a bound
    at(
      'type S = { pair: [string, number]; status: "open" | "done"; byStep: Record<"a" | "b", number> };\ndefineSaga<S>("s");',
    ),
    at('defineSaga<{ nested: { a: string; b: { c: number } } }>("s");'),
    // under the size limit with a raised limit
    {
      ...at(`defineSaga<{ ${Array.from({ length: 20 }, (_, i) => `f${i}: string`).join("; ")} }>("s");`),
      options: [{ maxBytes: 4096 }],
    },
    // no type argument written: nothing to measure
    at('defineSaga("s");'),
  ],
  invalid: [
    {
      ...at('interface S { orderId: string; lines: string[] }\ndefineSaga<S>("order");'),
      errors: [
        {
          messageId: "unbounded",
          data: { state: "S", where: "field `lines`", why: "is an array with no bound on its length" },
        },
      ],
    },
    {
      ...at('defineSaga<{ seen: Set<string> }>("s");'),
      errors: [{ messageId: "unbounded" }],
    },
    {
      ...at('defineSaga<{ byId: Record<string, number> }>("s");'),
      errors: [{ messageId: "unbounded" }],
    },
    {
      ...at('defineSaga<{ a: { b: Map<string, string> } }>("s");'),
      errors: [
        {
          messageId: "unbounded",
          data: {
            state: "{ a: { b: Map<string, string> } }",
            where: "field `a.b`",
            why: "is a Map, which can grow without bound",
          },
        },
      ],
    },
    {
      ...at('defineSaga<{ blob: unknown }>("s");'),
      errors: [{ messageId: "unbounded" }],
    },
    {
      // 20 strings at 64 bytes each is over 1 KiB
      ...at(`defineSaga<{ ${Array.from({ length: 20 }, (_, i) => `f${i}: string`).join("; ")} }>("s");`),
      errors: [{ messageId: "tooLarge" }],
    },
    {
      ...at('interface S { note: string }\ndefineSaga<S>("s");'),
      options: [{ maxBytes: 32 }],
      errors: [{ messageId: "tooLarge", data: { state: "S", bytes: "70", max: "32" } }],
    },
  ],
});

untyped.run("bounded-saga-state (without types: silent)", asEslintRule(rule), {
  valid: ['defineSaga<{ lines: string[] }>("s");'],
  invalid: [],
});
