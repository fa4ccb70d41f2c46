// Peer for the "moleculer" rows: a Moleculer 0.14 service on its NATS transporter with the CBOR
// serializer (cbor-x), in its own namespace. What a Moleculer service costs per event or call.
//   events: service "bench" with an event handler for "bench.event" that counts
//   rr:     service "bench" with an action "echo" that returns ctx.params
//   node benches/nats/peers/moleculer.mjs <events|rr> <tag>

import moleculer from "moleculer";
import { NATS_URL } from "../common.mjs";
import { EVENT_TYPE, MOLECULER_SERVICE, moleculerNamespace } from "../names.mjs";
import { linkToParent, startPeer } from "./parent-link.mjs";

const { mode, tag } = startPeer();
let count = 0;
let served = 0;

const broker = new moleculer.ServiceBroker({
  namespace: moleculerNamespace(tag),
  nodeID: `bench-peer-${tag}`,
  transporter: NATS_URL,
  serializer: "CBOR",
  logger: false,
});
broker.createService({
  name: MOLECULER_SERVICE,
  events:
    mode === "events"
      ? {
          [EVENT_TYPE](_ctx) {
            count++;
          },
        }
      : {},
  actions:
    mode === "rr"
      ? {
          echo(ctx) {
            served++;
            return ctx.params;
          },
        }
      : {},
});
await broker.start();
linkToParent(
  mode,
  () => ({ count, served }),
  () => broker.stop(),
);
