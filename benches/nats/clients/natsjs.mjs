// Bench-process side of the "natsjs raw" rows: nats.js v2 with raw bytes (the payload's 256-byte
// Buffer) and `noAsyncTraces`. Events: nc.publish; requests: nc.request with a 5 s timeout.
// Peer: benches/nats/peers/natsjs.mjs.

import { connectNatsJs, NATSJS_FAST, POOL } from "../common.mjs";
import { subjectOf } from "../names.mjs";

export const label = "natsjs raw";
export const window = 65_536;
const MASK = POOL - 1;

export const peerFor = (mode, tag) => ({ script: "peers/natsjs.mjs", args: [mode, tag] });

export async function open(mode, tag, payloads) {
  const nc = await connectNatsJs(`bench-client-natsjs-${mode}`, NATSJS_FAST);
  const events = subjectOf(tag, "natsjs", "evt");
  const requests = subjectOf(tag, "natsjs", "rr");
  return {
    /** Nothing to await: nats.js writes its outbound buffer when the event loop turns. */
    emitChunk(start, n) {
      for (let i = 0; i < n; i++) nc.publish(events, payloads[(start + i) & MASK].data);
      return undefined;
    },
    request: (i) => nc.request(requests, payloads[i & MASK].data, { timeout: 5000 }),
    close: () => nc.close(),
  };
}
