// Bench-process side of the "catga" rows: the public API a user calls. Events: a mediator with
// the NATS transport and no local handler, `catga.publish(BenchEvent, payload)`. Requests: the
// command declared `.remote(Echo)`, `catga.send(Echo, payload)`, its Result checked.
// Peer: benches/nats/peers/catga.mjs.

import { createCatga, defineCommand, defineEvent } from "../../../dist/index.js";
import { natsTransport } from "../../../dist/nats.js";
import { catgaOverrides, NATS_URL, POOL } from "../common.mjs";
import { catgaPrefix, ECHO_TYPE, EVENT_TYPE } from "../names.mjs";

export const label = "catga";
/** Most undelivered events the publisher allows (see the events scenario). */
export const window = 65_536;
const MASK = POOL - 1;
const BenchEvent = defineEvent(EVENT_TYPE);
const Echo = defineCommand(ECHO_TYPE);

export const peerFor = (mode, tag) => ({ script: "peers/catga.mjs", args: [mode, tag] });

function ok(result) {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

export async function open(mode, tag, payloads) {
  const transport = await natsTransport({
    servers: NATS_URL,
    service: mode === "events" ? "bench-pub" : "bench-client",
    prefix: catgaPrefix(tag),
    ...catgaOverrides(),
  });
  const catga = createCatga().withTransport(transport).remote(Echo).build();
  await transport.ready();
  return {
    /** Publishes `n` events; the last one's Result (a failed batch fails all of its events). */
    emitChunk(start, n) {
      let last;
      for (let i = 0; i < n; i++) last = catga.publish(BenchEvent, payloads[(start + i) & MASK]);
      return last.then(ok);
    },
    request: (i) => catga.send(Echo, payloads[i & MASK]).then(ok),
    close: () => catga.close(),
  };
}
