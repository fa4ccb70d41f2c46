// Peer for the "natsjs raw" rows: nats.js v2 with raw bytes and nats.js's speed advice
// (`noAsyncTraces`). The floor a hand-written nats.js service starts from: no encoding, no dispatch.
//   events: a subscription whose callback counts
//   rr:     a subscription in queue group "bench-rr" whose callback does msg.respond(msg.data)
//   node benches/nats/peers/natsjs.mjs <events|rr> <tag>

import { connectNatsJs, NATSJS_FAST } from "../common.mjs";
import { subjectOf } from "../names.mjs";
import { linkToParent, startPeer } from "./parent-link.mjs";

const { mode, tag } = startPeer();
let count = 0;
let served = 0;

const nc = await connectNatsJs(`bench-peer-natsjs-${mode}`, NATSJS_FAST);
if (mode === "events") {
  nc.subscribe(subjectOf(tag, "natsjs", "evt"), {
    callback: (error) => {
      if (!error) count++;
    },
  });
} else {
  nc.subscribe(subjectOf(tag, "natsjs", "rr"), {
    queue: "bench-rr",
    callback: (error, msg) => {
      if (error) return;
      served++;
      msg.respond(msg.data);
    },
  });
}
await nc.flush();
linkToParent(
  mode,
  () => ({ count, served }),
  () => nc.close(),
);
