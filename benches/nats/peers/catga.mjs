// Peer for the "catga" rows: a Catga service written with the public API, as a user writes one
// (createCatga + natsTransport, default MessagePack codec, no behaviors). Measures what a Catga
// service costs per event or per request, handler dispatch included.
//   events: one handler for the event contract that counts (queue group "bench-sub")
//   rr:     one handler for the command contract that returns its payload (queue group "bench-rr")
//   node benches/nats/peers/catga.mjs <events|rr> <tag>

import { createCatga, defineCommand, defineEvent } from "../../../dist/index.js";
import { natsTransport } from "../../../dist/nats.js";
import { catgaOverrides, NATS_URL } from "../common.mjs";
import { catgaPrefix, ECHO_TYPE, EVENT_TYPE } from "../names.mjs";
import { linkToParent, startPeer } from "./parent-link.mjs";

const { mode, tag } = startPeer();
const BenchEvent = defineEvent(EVENT_TYPE);
const Echo = defineCommand(ECHO_TYPE);
let count = 0;
let served = 0;

const transport = await natsTransport({
  servers: NATS_URL,
  service: mode === "events" ? "bench-sub" : "bench-rr",
  prefix: catgaPrefix(tag),
  ...catgaOverrides(),
});
const builder = createCatga().withTransport(transport);
const catga =
  mode === "events"
    ? builder
        .handle(BenchEvent, () => {
          count++;
        })
        .build()
    : builder
        .handle(Echo, (payload) => {
          served++;
          return payload;
        })
        .build();
await transport.ready();
linkToParent(
  mode,
  () => ({ count, served }),
  () => catga.close(),
);
