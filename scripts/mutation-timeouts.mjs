// Forgets the mutants StrykerJS marked "Timeout" in its incremental file, so that the next
// `npm run test:mutation -- --incremental --timeoutMS 15000` retests only those. On a loaded
// machine most timeouts are the machine, not a mutant that hangs, and Stryker counts every
// timeout as detected: rerun them before trusting the score.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2] ?? "reports/stryker-incremental.json";
const report = JSON.parse(readFileSync(file, "utf8"));
let dropped = 0;
for (const entry of Object.values(report.files)) {
  const kept = entry.mutants.filter((mutant) => mutant.status !== "Timeout");
  dropped += entry.mutants.length - kept.length;
  entry.mutants = kept;
}
writeFileSync(file, JSON.stringify(report));
console.log(`${file}: forgot ${dropped} timed-out mutants`);
