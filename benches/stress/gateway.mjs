// The HTTP gateway of the stress and chaos suites (benches/stress.mjs, benches/chaos.mjs): flow (b)
// of the load suite — POST /orders sends PlaceOrder over NATS to the service process(es) of
// benches/load/service.mjs — with the protections a gateway in front of a fleet would carry, so
// that overload is answered rather than queued:
//   - at most `maxInFlight` requests awaiting a reply, past it CATGA_BACKPRESSURE (`reject`);
//   - with `rateLimit` > 0, a global token bucket at that many req/s: CATGA_RATE_LIMITED;
//   - a reply not back within `requestTimeoutMs`: CATGA_TIMEOUT.
// The plugin answers the first two 503 with Retry-After; the timeout is mapped to the same here
// (by default it is a 504): under overload, all three mean "come back in a second".
//
//   node benches/stress/gateway.mjs '{"servers":"nats://127.0.0.1:4222","prefix":"…","rateLimit":0,
//                                     "maxInFlight":256,"requestTimeoutMs":1000}'
// Listens on 127.0.0.1, a free port, reported over IPC ({ port }); exits on "stop" or when the
// parent goes away.
import Fastify from "fastify";
import { catgaFastify } from "../../dist/fastify.js";
import { createCatga, defineCommand } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const { servers, prefix, rateLimit, maxInFlight, requestTimeoutMs } = JSON.parse(process.argv[2]);
const PlaceOrder = defineCommand("orders.place");
const transport = await natsTransport({
  servers,
  service: "gateway",
  prefix,
  maxInFlightRequests: maxInFlight,
  backpressure: "reject",
  requestTimeoutMs,
});
let builder = createCatga({ transport }).remote(PlaceOrder);
if (rateLimit > 0) {
  // A quarter second's worth of burst: the load generator's bursts (Timeline.load) pass, a
  // sustained excess does not.
  builder = builder.withRateLimiting({
    capacity: Math.max(1, Math.ceil(rateLimit / 4)),
    refillPerSecond: rateLimit,
    scope: "global",
  });
}
const catga = builder.build();
const app = Fastify({ logger: false });
await app.register(catgaFastify, {
  catga,
  statuses: { CATGA_TIMEOUT: { status: 503, retryAfterSeconds: 1 } },
});
app.post("/orders", async (request, reply) =>
  reply.catga(await request.catga.send(PlaceOrder, request.body)),
);
await app.listen({ port: 0, host: "127.0.0.1" });
process.send?.({ port: app.server.address().port });
const stop = () => app.close().then(() => process.exit(0));
process.on("message", (message) => message === "stop" && stop());
process.on("disconnect", stop);
