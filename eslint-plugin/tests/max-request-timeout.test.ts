import rule from "../src/rules/max-request-timeout.js";
import { asEslintRule, untyped } from "./helpers.js";

untyped.run("max-request-timeout", asEslintRule(rule), {
  valid: [
    "createCatga().withTimeout({ ms: 10_000 });",
    "createCatga().withTimeout({ ms: 30_000, perType: { 'reports.build': 20_000 } });",
    "natsTransport({ servers, requestTimeoutMs: 5000 });",
    { code: "createCatga().withTimeout({ ms: 60_000 });", options: [{ maxMs: 120_000 }] },
    "await catga.send(Place, input, { signal: AbortSignal.timeout(5_000) });",
    // an AbortSignal.timeout that is not a send/query deadline
    "await fetch(url, { signal: AbortSignal.timeout(120_000) });",
    // not a number we can read: left alone
    "createCatga().withTimeout({ ms: config.timeoutMs });",
  ],
  invalid: [
    {
      code: "createCatga().withTimeout({ ms: 60_000 });",
      errors: [
        {
          messageId: "tooLong",
          data: { field: "timeout.ms", ms: "60000", maxMs: "30000" },
          suggestions: [{ messageId: "lower", output: "createCatga().withTimeout({ ms: 30000 });" }],
        },
      ],
    },
    {
      code: "const TEN_MINUTES = 10 * 60 * 1000;\ncreateCatga().withTimeout({ perType: { 'reports.build': TEN_MINUTES } });",
      errors: [
        {
          messageId: "tooLong",
          data: { field: "timeout.perType.reports.build", ms: "600000", maxMs: "30000" },
          suggestions: [],
        },
      ],
    },
    {
      code: "await ctx.query(Report, input, { signal: AbortSignal.timeout(90_000) });",
      errors: [
        {
          messageId: "tooLong",
          data: { field: "query signal: AbortSignal.timeout", ms: "90000", maxMs: "30000" },
          suggestions: [
            {
              messageId: "lower",
              output: "await ctx.query(Report, input, { signal: AbortSignal.timeout(30000) });",
            },
          ],
        },
      ],
    },
    {
      code: "natsTransport({ servers, requestTimeoutMs: 45000 });",
      options: [{ maxMs: 40_000 }],
      errors: [
        {
          messageId: "tooLong",
          suggestions: [
            { messageId: "lower", output: "natsTransport({ servers, requestTimeoutMs: 40000 });" },
          ],
        },
      ],
    },
  ],
});
