// Bench-process side of the "moleculer" rows: a Moleculer 0.14 broker (NATS transporter, CBOR)
// in the peer's namespace. Events: broker.emit (balanced to the peer's service); requests:
// broker.call("bench.echo", payload) with a 5 s request timeout. Peer: peers/moleculer.mjs.

import moleculer from "moleculer";
import { NATS_URL, POOL } from "../common.mjs";
import { EVENT_TYPE, MOLECULER_SERVICE, moleculerNamespace } from "../names.mjs";

export const label = "moleculer";
export const window = 65_536;
const MASK = POOL - 1;

export const peerFor = (mode, tag) => ({ script: "peers/moleculer.mjs", args: [mode, tag] });

export async function open(_mode, tag, payloads) {
  const broker = new moleculer.ServiceBroker({
    namespace: moleculerNamespace(tag),
    nodeID: `bench-client-${tag}`,
    transporter: NATS_URL,
    serializer: "CBOR",
    logger: false,
    requestTimeout: 5000,
  });
  await broker.start();
  // Discovery: the peer's service (and its event listener) must be known before the first send.
  await broker.waitForServices([MOLECULER_SERVICE], 15_000);
  const action = `${MOLECULER_SERVICE}.echo`;
  return {
    emitChunk(start, n) {
      let last;
      for (let i = 0; i < n; i++) last = broker.emit(EVENT_TYPE, payloads[(start + i) & MASK]);
      return last;
    },
    request: (i) => broker.call(action, payloads[i & MASK]),
    close: () => broker.stop(),
  };
}
