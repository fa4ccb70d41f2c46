import { describe, expect, it } from "vitest";
import { CheckedSubjects, isPublishSubject } from "../../ts/nats/subjects.js";

describe("publish subject check (as async-nats checks it)", () => {
  it("accepts what NATS accepts and refuses the rest", () => {
    for (const good of ["orders.evt.placed", "a", "_INBOX.x.1", "a.*.>", "ünïcode.ok", "x".repeat(300)]) {
      expect(isPublishSubject(good), good).toBe(true);
    }
    for (const bad of ["", ".a", "a.", ".", "a..b", "a b", "a\tb", "a\rb", "a\nb", 42, undefined, null]) {
      expect(isPublishSubject(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("remembers checked subjects up to its capacity, then starts over", () => {
    const checked = new CheckedSubjects(2);
    expect(checked.check("a.b")).toBe(true);
    expect(checked.check("a.b")).toBe(true);
    expect(checked.check("c")).toBe(true);
    expect(checked.check("d")).toBe(true); // past capacity: cleared, still checked
    expect(checked.check("bad subject")).toBe(false);
  });
});
