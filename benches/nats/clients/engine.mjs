// Bench-process side of the "engine ceiling" rows: the Rust engine under Catga, called directly
// (NatsConnection.publish / request of pre-encoded envelopes, ~330 B each), against a child that
// only counts (subscriber.mjs) or returns pre-encoded replies (responder.mjs). No codec, no
// mediator, no handler dispatch: the most Catga's transport can carry; a reference, not a headline.
// RR_RESPONDER=natsjs swaps in a nats.js responder (then set CATGA_OPTS='{"requestsPerFrame":1}').

import { connectCatga, makeEnvelopes, POOL } from "../common.mjs";
import { subjectOf } from "../names.mjs";

export const label = "engine ceiling";
export const window = 65_536;
const MASK = POOL - 1;

export function peerFor(mode, tag) {
  return mode === "events"
    ? { script: "subscriber.mjs", args: ["catga", subjectOf(tag, "engine", "evt")] }
    : {
        script: "responder.mjs",
        args: [process.env.RR_RESPONDER ?? "catga", subjectOf(tag, "engine", "rr"), "bench-rr"],
      };
}

export async function open(mode, tag) {
  const conn = await connectCatga(`bench-client-engine-${mode}`);
  const events = makeEnvelopes("event", "bench.event");
  const requests = makeEnvelopes("query", "bench.query");
  const eventSubject = subjectOf(tag, "engine", "evt");
  const requestSubject = subjectOf(tag, "engine", "rr");
  return {
    emitChunk(start, n) {
      let last;
      for (let i = 0; i < n; i++) last = conn.publish(eventSubject, events[(start + i) & MASK]);
      return last;
    },
    request: (i) => conn.request(requestSubject, requests[i & MASK], 5000),
    close: () => conn.close(),
  };
}
