import { describe, expect, it } from "vitest";
import { CatgaError } from "../../ts/errors.js";
import { type FlushBatch, OutboundBatcher } from "../../ts/nats/batcher.js";
import { viewsOf } from "../../ts/nats/pack.js";

/** A flush that reads each batch after a turn of the loop, as the engine does on its own thread. */
function recordingFlush() {
  const sent: { subject: string; body: string }[][] = [];
  let inFlight = 0;
  let overlapped = false;
  const flush: FlushBatch = async (subjects, subjectIndex, data, offsets) => {
    inFlight++;
    overlapped ||= inFlight > 1;
    await new Promise((resolve) => setImmediate(resolve));
    const views = viewsOf(data, offsets);
    sent.push(views.map((view, i) => ({ subject: subjects[subjectIndex[i]!]!, body: view.toString() })));
    inFlight--;
  };
  return { flush, sent, overlapped: () => overlapped };
}

const options = {
  maxMessages: 3,
  maxBytes: 64,
  maxQueuedBytes: 1 << 20,
  policy: "wait" as const,
  maxDelayMs: 0,
};

describe("OutboundBatcher", () => {
  it("sends batches one at a time, in order, each intact although they share one buffer", async () => {
    const { flush, sent, overlapped } = recordingFlush();
    const batcher = new OutboundBatcher(flush, options);
    const published = Array.from({ length: 20 }, (_, i) => ({ subject: `s.${i % 2}`, body: `message-${i}` }));
    await Promise.all(published.map((m) => batcher.add(m.subject, Buffer.from(m.body))));
    expect(overlapped()).toBe(false);
    expect(sent.length).toBeGreaterThanOrEqual(Math.ceil(20 / 3));
    expect(sent.every((batch) => batch.length <= 3)).toBe(true);
    expect(sent.flat()).toEqual(published);
  });

  it("copies an envelope when it is added: the caller may reuse its buffer at once", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, options);
    const reused = Buffer.from("first");
    const pending = batcher.add("s", reused);
    reused.write("later");
    await pending;
    expect(sent.flat().map((m) => m.body)).toEqual(["first"]);
  });

  it("closes a batch before it would pass maxBytes; a lone oversized envelope still goes", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, { ...options, maxMessages: 100, maxBytes: 10 });
    await Promise.all(
      ["aaaa", "bbbb", "cccc", "x".repeat(25), "dd"].map((b) => batcher.add("s", Buffer.from(b))),
    );
    expect(sent.map((batch) => batch.map((m) => m.body))).toEqual([
      ["aaaa", "bbbb"],
      ["cccc"],
      ["x".repeat(25)],
      ["dd"],
    ]);
  });

  it("rejects with CATGA_BACKPRESSURE past maxQueuedBytes under the reject policy, and CATGA_CLOSED after close", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, { ...options, maxQueuedBytes: 8, policy: "reject" });
    const first = batcher.add("s", Buffer.from("12345678"));
    await expect(batcher.add("s", Buffer.from("9"))).rejects.toMatchObject({ code: "CATGA_BACKPRESSURE" });
    await first;
    await batcher.close();
    const late = await batcher.add("s", Buffer.from("late")).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(CatgaError);
    expect((late as CatgaError).code).toBe("CATGA_CLOSED");
    expect(sent.flat().map((m) => m.body)).toEqual(["12345678"]);
  });
});
