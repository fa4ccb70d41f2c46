import { describe, expect, it } from "vitest";
import { CatgaError } from "../../ts/errors.js";
import { type FlushBatch, OutboundBatcher } from "../../ts/nats/batcher.js";
import { viewsOf } from "../../ts/nats/pack.js";

/** A flush that reads each batch after a turn of the loop, as the engine does on its own thread. */
function recordingFlush(refused: readonly string[] = []) {
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
    const denied = subjects.filter((subject) => refused.includes(subject));
    return denied.length > 0 ? denied : null;
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

  it("wait policy: waiters keep publish order (a later small envelope never overtakes) and are copied at publish", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, { ...options, maxMessages: 100, maxQueuedBytes: 10 });
    const reused = Buffer.from("BBBBBB");
    const published = [
      batcher.add("s", Buffer.from("AAAAAAAA")),
      batcher.add("s", reused), // does not fit next to the first: waits
      batcher.add("s", Buffer.from("C")), // would fit, but must not pass the one waiting
    ];
    reused.write("LATER!");
    await Promise.all(published);
    expect(sent.flat().map((m) => m.body)).toEqual(["AAAAAAAA", "BBBBBB", "C"]);
  });

  it("close() fails envelopes still waiting for room with CATGA_CLOSED and sends what it had accepted", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, { ...options, maxQueuedBytes: 8 });
    const accepted = batcher.add("s", Buffer.from("12345678"));
    const waiting = batcher.add("s", Buffer.from("9")).catch((e: unknown) => e);
    await batcher.close();
    await accepted;
    expect(await waiting).toMatchObject({ code: "CATGA_CLOSED" });
    expect(sent.flat().map((m) => m.body)).toEqual(["12345678"]);
  });

  it("with a delay, a batch closed because the next envelope does not fit goes at once", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, {
      ...options,
      maxMessages: 100,
      maxBytes: 10,
      maxDelayMs: 60_000,
    });
    const first = batcher.add("s", Buffer.from("123456"));
    const second = batcher.add("s", Buffer.from("789012")); // closes the first batch
    await first; // would wait a minute for the timer before the fix
    expect(sent.map((batch) => batch.map((m) => m.body))).toEqual([["123456"]]);
    await batcher.flush(); // cancels the delay timer, and only it
    await second;
    expect(sent.length).toBe(2);
    // clearImmediate on the Timeout used to break every later setImmediate in the process.
    await new Promise((resolve) => setImmediate(resolve));
  });

  it("rejects what is not bytes with CATGA_INVALID_ARGUMENT and keeps its byte count (backpressure still holds)", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, { ...options, maxQueuedBytes: 16, policy: "reject" });
    for (const bad of ["hello", new ArrayBuffer(8), undefined]) {
      await expect(batcher.add("s", bad as never)).rejects.toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    }
    const outcomes = await Promise.all(
      [16, 16].map((n) =>
        batcher.add("s", Buffer.alloc(n)).then(
          () => "sent",
          (e: CatgaError) => e.code,
        ),
      ),
    );
    expect(outcomes).toEqual(["sent", "CATGA_BACKPRESSURE"]);
    expect(sent.flat()).toHaveLength(1);
  });

  it("fails only the senders of a subject the server refused, with CATGA_PERMISSION_DENIED naming it", async () => {
    const { flush } = recordingFlush(["no"]);
    const batcher = new OutboundBatcher(flush, options);
    const outcomes = await Promise.allSettled([
      batcher.add("yes", Buffer.from("a")),
      batcher.add("no", Buffer.from("b")),
      batcher.add("yes", Buffer.from("c")),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const error = (outcomes[1] as PromiseRejectedResult).reason as CatgaError;
    expect(error.code).toBe("CATGA_PERMISSION_DENIED");
    expect(error.details).toEqual({ subject: "no" });
    await batcher.close();
  });

  it("a flush that throws synchronously fails that batch's senders, not the caller of add", async () => {
    let calls = 0;
    const flush: FlushBatch = () => {
      calls++;
      throw new Error("engine refused the batch");
    };
    const batcher = new OutboundBatcher(flush, { ...options, maxMessages: 1 });
    const pending = batcher.add("s", Buffer.from("x"));
    await expect(pending).rejects.toThrow("engine refused the batch");
    expect(calls).toBe(1);
  });
});

describe("OutboundBatcher while the engine is held up (issue 14, item 10)", () => {
  it("grows the open batch while one is in flight: events buffered through an outage go out batched", async () => {
    const calls: number[] = [];
    let release!: () => void;
    const outage = new Promise<void>((resolve) => {
      release = resolve;
    });
    const flush: FlushBatch = async (_subjects, _subjectIndex, _data, offsets) => {
      calls.push(offsets.length / 2);
      if (calls.length === 1) await outage; // the first batch waits for the broker to come back
      return undefined; // no subject refused
    };
    const batcher = new OutboundBatcher(flush, { ...options, maxMessages: 100, maxBytes: 1 << 16 });
    const published: Promise<void>[] = [];
    // One event per turn of the loop, as a service publishing steadily through an outage.
    for (let i = 0; i < 450; i++) {
      published.push(batcher.add("s", Buffer.from(`event-${i}`)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(calls).toEqual([1]);
    release();
    await Promise.all(published);
    // 1 sent before the outage, then the other 449 in full batches, not 449 single messages.
    expect(calls).toEqual([1, 100, 100, 100, 100, 49]);
  });

  it("paused for an outage, holds events in full batches and sends them at resume, in order", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, { ...options, maxMessages: 100, maxBytes: 1 << 16 });
    batcher.pause();
    const published: Promise<void>[] = [];
    for (let i = 0; i < 250; i++) {
      published.push(batcher.add("s", Buffer.from(`event-${i}`)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sent).toEqual([]);
    batcher.resume();
    await Promise.all(published);
    expect(sent.map((batch) => batch.length)).toEqual([100, 100, 50]);
    expect(sent.flat().map((m) => m.body)).toEqual(Array.from({ length: 250 }, (_, i) => `event-${i}`));
  });

  it("a flush while paused still hands the held batches to the engine (its own flush is bounded)", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, { ...options, maxMessages: 100, maxBytes: 1 << 16 });
    batcher.pause();
    const held = Array.from({ length: 150 }, (_, i) => batcher.add("s", Buffer.from(`e${i}`)));
    await batcher.flush();
    await Promise.all(held);
    expect(sent.map((batch) => batch.length)).toEqual([100, 50]);
    // Still paused: what comes after the flush waits again.
    const later = batcher.add("s", Buffer.from("after"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.length).toBe(2);
    batcher.resume();
    await later;
    expect(sent.at(-1)!.map((m) => m.body)).toEqual(["after"]);
  });

  it("close() sends what a pause held", async () => {
    const { flush, sent } = recordingFlush();
    const batcher = new OutboundBatcher(flush, options);
    batcher.pause();
    const held = batcher.add("s", Buffer.from("held"));
    await batcher.close();
    await held;
    expect(sent.flat().map((m) => m.body)).toEqual(["held"]);
  });
});
