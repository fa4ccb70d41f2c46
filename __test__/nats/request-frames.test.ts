// Framed requests: requests to one subject that start in the same tick travel as one CTG1 frame
// and their replies come back as one positional frame (crates/catga-core/src/nats/request_frames.rs).
import { connect as connectNatsJs, type NatsConnection as NatsJsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsConnection } from "../../ts/entries/nats.js";
import { CatgaError } from "../../ts/index.js";
import { decodeWire } from "../../ts/nats/wire.js";
import { eventEnvelope, NATS_URL, uniquePrefix } from "./helpers.js";

let client: NatsConnection;
let responder: NatsConnection;

beforeAll(async () => {
  client = await NatsConnection.connect({ servers: NATS_URL, name: "frames-client" });
  responder = await NatsConnection.connect({ servers: NATS_URL, name: "frames-responder" });
});

afterAll(async () => {
  await Promise.all([client.close(), responder.close()]);
});

const ids = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
const send = (subject: string, messageIds: string[], timeoutMs = 3000) =>
  messageIds.map((id) => client.request(subject, eventEnvelope(id), timeoutMs));

/** Settles to the reply's messageId or the error's code. */
const outcome = (p: Promise<Buffer>) =>
  p.then(
    (reply) => decodeWire(reply).messageId,
    (error: unknown) => (error instanceof CatgaError ? error.code : String(error)),
  );

describe("framed requests", () => {
  it("sends requests of one tick as one frame and matches every reply to its request", async () => {
    const subject = `${uniquePrefix("frames")}.cmd.echo`;
    const seen: { count: number; replies: (string | null)[] }[] = [];
    const unsubscribe = await responder.subscribe(subject, { queue: "svc" }, async (batch) => {
      seen.push({ count: batch.envelopes.length, replies: [...batch.replies] });
      // Answer in reverse order: matching must not depend on reply order.
      return batch.envelopes
        .map((bytes, i) => ({
          subject: batch.replies[i]!,
          envelope: eventEnvelope(`re:${decodeWire(bytes).messageId}`),
        }))
        .reverse();
    });
    const framesBefore = client.stats().framesSent;
    const requested = ids(40, "q");
    const replies = await Promise.all(send(subject, requested).map(outcome));
    expect(replies).toEqual(requested.map((id) => `re:${id}`));
    // One group of 40 went out as one frame, and the responder saw it as one batch whose
    // members answer on <group reply>.<i>.
    expect(client.stats().framesSent - framesBefore).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.count).toBe(40);
    const group = seen[0]!.replies[0]!.replace(/\.0$/, "");
    expect(seen[0]!.replies).toEqual(requested.map((_, i) => `${group}.${i}`));
    await unsubscribe();
  });

  it("splits a burst into groups of requestsPerFrame", async () => {
    const subject = `${uniquePrefix("frames")}.cmd.split`;
    const small = await NatsConnection.connect({ servers: NATS_URL, requestsPerFrame: 8 });
    const sizes: number[] = [];
    const unsubscribe = await responder.subscribe(subject, {}, async (batch) => {
      sizes.push(batch.envelopes.length);
      return batch.envelopes.map((bytes, i) => ({ subject: batch.replies[i]!, envelope: bytes }));
    });
    const requested = ids(20, "s");
    const replies = await Promise.all(
      requested.map((id) => outcome(small.request(subject, eventEnvelope(id)))),
    );
    expect(replies).toEqual(requested);
    expect(small.stats().framesSent).toBe(3); // 8 + 8 + 4
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
    await unsubscribe();
    await small.close();
  });

  it("takes replies sent later with reply() beside those returned with the batch", async () => {
    const subject = `${uniquePrefix("frames")}.cmd.mixed`;
    const unsubscribe = await responder.subscribe(subject, {}, async (batch) => {
      const returned = [];
      for (let i = 0; i < batch.envelopes.length; i++) {
        const envelope = eventEnvelope(`re:${decodeWire(batch.envelopes[i]!).messageId}`);
        // Even members come back in the frame; odd ones on their own, a little later.
        if (i % 2 === 0) returned.push({ subject: batch.replies[i]!, envelope });
        else setTimeout(() => void responder.reply(batch.replies[i]!, envelope), 30);
      }
      return returned;
    });
    const requested = ids(9, "m");
    const replies = await Promise.all(send(subject, requested).map(outcome));
    expect(replies).toEqual(requested.map((id) => `re:${id}`));
    await unsubscribe();
  });

  it("times out only the members that got no reply", async () => {
    const subject = `${uniquePrefix("frames")}.cmd.partial`;
    const unsubscribe = await responder.subscribe(subject, {}, async (batch) =>
      batch.envelopes.flatMap((bytes, i) =>
        decodeWire(bytes).messageId.endsWith("!") ? [] : [{ subject: batch.replies[i]!, envelope: bytes }],
      ),
    );
    const settled: string[] = [];
    const replies = await Promise.all(
      send(subject, ["a", "b!", "c", "d!"], 300).map((p) =>
        outcome(p).then((result) => {
          settled.push(result);
          return result;
        }),
      ),
    );
    expect(replies).toEqual(["a", "CATGA_TIMEOUT", "c", "CATGA_TIMEOUT"]);
    // The answered members settle as their replies arrive, not when their siblings time out.
    expect(settled).toEqual(["a", "c", "CATGA_TIMEOUT", "CATGA_TIMEOUT"]);
    await unsubscribe();
  });

  it("fails the whole group with CATGA_NO_HANDLER when nobody is subscribed", async () => {
    const subject = `${uniquePrefix("frames")}.cmd.nobody`;
    const replies = await Promise.all(send(subject, ids(5, "n")).map(outcome));
    expect(replies).toEqual(Array(5).fill("CATGA_NO_HANDLER"));
  });

  it("fails a group whose reply frame is corrupt with the decode error, not a hang", async () => {
    const subject = `${uniquePrefix("frames")}.cmd.corrupt`;
    const foreign: NatsJsConnection = await connectNatsJs({ servers: NATS_URL.replace("nats://", "") });
    // A foreign responder answers the group's reply subject with a CTG1 frame that claims two
    // entries and then ends.
    const truncated = Buffer.concat([Buffer.from("CTG1"), Buffer.from([1, 0, 2, 0, 0, 0, 9, 9])]);
    foreign.subscribe(subject, { callback: (_e, msg) => msg.respond(truncated) });
    await foreign.flush();
    const replies = await Promise.all(send(subject, ids(3, "c")).map(outcome));
    expect(replies).toEqual(Array(3).fill("CATGA_DECODE"));
    await foreign.close();
  });

  it("with requestsPerFrame 1 talks to a responder written with another client", async () => {
    const subject = `${uniquePrefix("frames")}.cmd.foreign`;
    const plain = await NatsConnection.connect({ servers: NATS_URL, requestsPerFrame: 1 });
    const foreign: NatsJsConnection = await connectNatsJs({ servers: NATS_URL.replace("nats://", "") });
    // Decodes each request as one raw envelope (a frame would not decode) and answers it.
    foreign.subscribe(subject, {
      callback: (_e, msg) => msg.respond(eventEnvelope(`re:${decodeWire(msg.data).messageId}`)),
    });
    await foreign.flush();
    const requested = ids(6, "f");
    const replies = await Promise.all(
      requested.map((id) => outcome(plain.request(subject, eventEnvelope(id), 1000))),
    );
    expect(replies).toEqual(requested.map((id) => `re:${id}`));
    expect(plain.stats().framesSent).toBe(0);
    await plain.close();
    await foreign.close();
  });
});
