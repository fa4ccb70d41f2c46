#!/usr/bin/env node
// The public API report: one api/<entry>.api.md per entry point in package.json "exports",
// written by api-extractor from the built declarations (dist/*.d.ts). `--check` (run by
// `npm run lint:api` and `npm test`) fails when the built API differs from the checked-in
// report, so every change to the public surface shows up in review as a diff of api/.
// Update the report after an intended change with `npm run api:update`.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const entries = Object.keys(pkg.exports)
  .filter((key) => key !== "./package.json")
  .map((key) => (key === "." ? "index" : key.slice(2)));

const temp = join(root, "node_modules", ".cache", "api-report");
mkdirSync(temp, { recursive: true });
let failed = false;
for (const entry of entries) {
  const declarations = join(root, "dist", `${entry}.d.ts`);
  if (!existsSync(declarations)) {
    console.error(`api-report: ${declarations} is missing; run npm run build:ts first`);
    process.exit(1);
  }
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: declarations,
      compiler: { tsconfigFilePath: join(root, "tsconfig.json") },
      apiReport: {
        enabled: true,
        reportFileName: `${entry}.api.md`,
        reportFolder: join(root, "api"),
        reportTempFolder: temp,
        includeForgottenExports: true,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // Types reachable from the API but not exported by name are listed in the report
        // (includeForgottenExports) instead of failing the run.
        extractorMessageReporting: {
          default: { logLevel: "none" },
          "ae-forgotten-export": { logLevel: "none", addToApiReportFile: false },
        },
        tsdocMessageReporting: { default: { logLevel: "none" } },
        compilerMessageReporting: { default: { logLevel: "warning" } },
      },
    },
    configObjectFullPath: join(root, "api", "api-extractor.json"),
    packageJsonFullPath: join(root, "package.json"),
  });
  const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false });
  if (check && result.apiReportChanged) {
    console.error(
      `api-report: the public API of ${entry === "index" ? "@catga/native" : `@catga/native/${entry}`} changed; review and run npm run api:update (diff: ${join(temp, `${entry}.api.md`)})`,
    );
    failed = true;
  } else if (!result.succeeded && !result.apiReportChanged) {
    console.error(`api-report: api-extractor failed for ${entry} (${result.errorCount} errors)`);
    failed = true;
  }
}
if (failed) process.exit(1);
console.log(`api report ${check ? "matches" : "written for"}: ${entries.join(", ")}`);
