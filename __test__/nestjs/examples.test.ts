import { describe, expect, it } from "vitest";
import { run as runAfter } from "../../examples/nestjs/after.js";
import { run as runBefore } from "../../examples/nestjs/before.js";

// docs/guides/migration-nestjs-cqrs.md: both sides of the migration compile (`npm run lint` type-checks
// examples/nestjs) and do the same.
describe("examples/nestjs", () => {
  it("after.ts (@catga/native/nestjs) does what before.ts (@nestjs/cqrs) did", async () => {
    const expected = ["warehouse notified: o-1 (book)", "o-1: 2 x book"];
    expect(await runBefore()).toEqual(expected);
    expect(await runAfter()).toEqual(expected);
  });
});
