// Mutation testing (`npm run test:mutation`): StrykerJS changes ts/mediator and ts/nats one
// mutant at a time and runs the vitest tests that cover it; a mutant no test kills is a behaviour
// nothing guards. Reports: reports/mutation/index.html (browse) and mutation.json. Not part of
// `npm test` (it takes tens of minutes); bar: a mutation score >= 80 % on ts/mediator/behaviors.
// One area at a time: `npm run test:mutation -- --mutate "ts/mediator/behaviors/**/*.ts"`.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: true },
  mutate: ["ts/mediator/**/*.ts", "ts/nats/**/*.ts"],
  coverageAnalysis: "perTest",
  ignoreStatic: true,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 90, low: 80, break: null },
  concurrency: 2,
  timeoutMS: 4000,
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
