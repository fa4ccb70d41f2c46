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

  it("packs into a reusable slab when it is large enough, else into a new buffer", () => {
    const slab = Buffer.alloc(16);
    const packed = packBytes([Buffer.from("abc"), Buffer.from("defg")], slab);
    expect(packed.data.buffer).toBe(slab.buffer);
    expect(packed.data.toString()).toBe("abcdefg");
    expect(viewsOf(packed.data, packed.offsets).map(String)).toEqual(["abc", "defg"]);
    const tooBig = packBytes([Buffer.alloc(10, 1), Buffer.alloc(10, 2)], slab);
    expect(tooBig.data.buffer).not.toBe(slab.buffer);
    expect(tooBig.data.length).toBe(20);
    expect(slab.subarray(0, 7).toString()).toBe("abcdefg"); // untouched by the batch that did not fit
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
