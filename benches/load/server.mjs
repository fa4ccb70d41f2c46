// One HTTP server for the load suite, in its own process (benches/load.mjs starts it):
//   node benches/load/server.mjs bare    Fastify alone: POST /orders returns { orderId } from the body
//   node benches/load/server.mjs catga   Fastify + @catga/native/fastify: POST /orders sends the
//                                        PlaceOrder command in process and replies with its Result
//   node benches/load/server.mjs catga-nats   the same route, the command handled by a service
//                                        process over NATS (flow b; benches/load/service.mjs)
// All answer the same JSON for the same body. Listens on 127.0.0.1, a free port, which it reports
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
} else if (mode === "catga-nats") {
  // Flow (b): the same route, the command handled by another process over NATS.
  const { fork } = await import("node:child_process");
  const { createCatga, defineCommand } = await import("../../dist/index.js");
  const { natsTransport } = await import("../../dist/nats.js");
  const { catgaFastify } = await import("../../dist/fastify.js");
  const servers = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
  const prefix = `load${process.pid}`;
  const service = fork(new URL("./service.mjs", import.meta.url), [servers, prefix]);
  await new Promise((resolve, reject) => {
    service.once("message", resolve);
    service.once("exit", (code) => reject(new Error(`the service exited with ${code}`)));
  });
  const PlaceOrder = defineCommand("orders.place");
  const transport = await natsTransport({ servers, service: "gateway", prefix });
  const catga = createCatga({ transport }).remote(PlaceOrder).build();
  await app.register(catgaFastify, { catga });
  app.addHook("onClose", async () => {
    const exited = new Promise((resolve) => service.once("exit", resolve));
    service.send("stop");
    await exited;
  });
  app.post("/orders", async (request, reply) =>
    reply.catga(await request.catga.send(PlaceOrder, request.body)),
  );
} else {
  console.error(`usage: node benches/load/server.mjs bare|catga|catga-nats (got ${mode})`);
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
