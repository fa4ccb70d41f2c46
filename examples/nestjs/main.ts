// `npm run example:nestjs`: the migration of docs/guides/migration-nestjs-cqrs.md, both sides run.
// before.ts is a small @nestjs/cqrs app (a command, an event, a query); after.ts is the same app on
// @catga/native/nestjs. Each places an order, reads it back and shuts down; this prints what each
// did and whether they agree. Nothing to start: both run in process.
import { run as runAfter } from "./after.js";
import { run as runBefore } from "./before.js";

const before = await runBefore();
const after = await runAfter();
console.log("before (@nestjs/cqrs):");
for (const line of before) console.log(`  ${line}`);
console.log("after (@catga/native/nestjs):");
for (const line of after) console.log(`  ${line}`);
const same = JSON.stringify(before) === JSON.stringify(after);
console.log(same ? "same behaviour: yes" : "same behaviour: NO");
process.exitCode = same ? 0 : 1;
