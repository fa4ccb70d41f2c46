// One HTTP server for the load suite, in its own process (benches/load.mjs starts it):
//   node benches/load/server.mjs bare    Fastify alone: POST /orders returns { orderId } from the body
//   node benches/load/server.mjs catga   Fastify + @catga/native/fastify: POST /orders sends the
//                                        PlaceOrder command in process and replies with its Result
// Both answer the same JSON for the same body. Listens on 127.0.0.1, a free port, which it reports
// over IPC ({ port }) and its CPU time on request (see below); exits when the parent goes away or sends "stop" (closing Fastify, which
// drains and closes the mediator).
import Fastify from "fastify";

const mode = process.argv[2];
const app = Fastify({ logger: false });

if (mode === "bare") {
  app.post("/orders", async (request) => ({ orderId: `o-${request.body.sku}-${request.body.qty}` }));
} else if (mode === "catga") {
  const { createCatga, defineCommand } = await import("../../dist/index.js");
  const { catgaFastify } = await import("../../dist/fastify.js");
  const PlaceOrder = defineCommand("orders.place");
  const catga = createCatga()
    .handle(PlaceOrder, ({ sku, qty }) => ({ orderId: `o-${sku}-${qty}` }))
    .build();
  await app.register(catgaFastify, { catga });
  app.post("/orders", async (request, reply) =>
    reply.catga(await request.catga.send(PlaceOrder, request.body)),
  );
} else {
  console.error(`usage: node benches/load/server.mjs bare|catga (got ${mode})`);
  process.exit(2);
}

await app.listen({ port: 0, host: "127.0.0.1" });
process.send?.({ port: app.server.address().port });
const stop = () => app.close().then(() => process.exit(0));
// "mark" starts a CPU window, "cpu" answers the CPU time (µs, user + system) this process spent
// since the mark: CPU per request moves far less with the machine's load than req/s does.
let mark = process.cpuUsage();
process.on("message", (message) => {
  if (message === "stop") stop();
  else if (message === "mark") mark = process.cpuUsage();
  else if (message === "cpu") {
    const { user, system } = process.cpuUsage(mark);
    process.send({ cpuMicros: user + system });
  }
});
process.on("disconnect", stop);
