import { describe, expect, it } from "vitest";
import { indexSubjects, packBytes, viewAt, viewsOf } from "../../ts/nats/pack.js";

describe("packing for the N-API crossing", () => {
  it("packs chunks into one buffer and views them back without copying", () => {
    const chunks = [Buffer.from("alpha"), Buffer.from(""), Buffer.from("omega!")];
    const { data, offsets } = packBytes(chunks);
    expect([...offsets]).toEqual([0, 5, 5, 0, 5, 6]);
    const views = viewsOf(data, offsets);
    expect(views.map((v) => v.toString())).toEqual(["alpha", "", "omega!"]);
    // Real Buffers over the same memory: a write through the batch shows in the view.
    for (const view of views) {
      expect(Buffer.isBuffer(view)).toBe(true);
      expect(view).toBeInstanceOf(Buffer);
    }
    data[5] = "O".charCodeAt(0);
    expect(views[2]!.toString()).toBe("Omega!");
    expect(views[2]!.equals(Buffer.from("Omega!"))).toBe(true);
    expect(views[2]!.readUInt8(1)).toBe("m".charCodeAt(0));
    // Buffer.from copies (how a handler keeps an envelope past the batch).
    const kept = Buffer.from(views[0]!);
    data[0] = "A".charCodeAt(0);
    expect([kept.toString(), views[0]!.toString()]).toEqual(["alpha", "Alpha"]);
  });

  it("views a slice of a buffer that does not start its ArrayBuffer", () => {
    const backing = Buffer.from("xxxxhello world");
    const data = backing.subarray(4);
    expect(viewAt(data, 6, 5).toString()).toBe("world");
    expect(viewsOf(data, Uint32Array.of(0, 5)).map(String)).toEqual(["hello"]);
  });

  it("indexes subjects once each, in first-seen order", () => {
    const { subjects, subjectIndex } = indexSubjects(["a", "b", "a", "c", "b"]);
    expect(subjects).toEqual(["a", "b", "c"]);
    expect([...subjectIndex]).toEqual([0, 1, 0, 2, 1]);
  });
});
