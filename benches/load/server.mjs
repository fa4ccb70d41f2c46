// One HTTP server for the load suite, in its own process (benches/load.mjs starts it):
//   node benches/load/server.mjs bare    Fastify alone: POST /orders returns { orderId } from the body
//   node benches/load/server.mjs catga   Fastify + @catga/native/fastify: POST /orders sends the
//                                        PlaceOrder command in process and replies with its Result
//   node benches/load/server.mjs catga-nats   the same route, the command handled by a service
//                                        process over NATS (flow b; benches/load/service.mjs)
//   node benches/load/server.mjs moleculer   flow (b) built with moleculer: moleculer-web's API
//                                        gateway (its own HTTP server), POST /orders → action
//                                        orders.place on a service process over moleculer's NATS
//                                        transporter (benches/load/moleculer-service.mjs)
// All answer the same JSON for the same body. Listens on 127.0.0.1, a free port, which it reports
// over IPC ({ port }) and its CPU time on request (see below); exits when the parent goes away or
// sends "stop" (closing the server, which drains and closes the mediator or broker).
import { fork } from "node:child_process";
import Fastify from "fastify";

const mode = process.argv[2];
const servers = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** Forks a service process of flow (b) and resolves with it once it reports ready. */
async function startService(script, args) {
  const service = fork(new URL(script, import.meta.url), args);
  await new Promise((resolve, reject) => {
    service.once("message", resolve);
    service.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return async () => {
    const exited = new Promise((resolve) => service.once("exit", resolve));
    service.send("stop");
    await exited;
  };
}

/** Starts the server of `mode`; resolves with its port and how to close it. */
async function serve() {
  if (mode === "moleculer") {
    // The same flow (b) as moleculer users build it: moleculer-web is the HTTP server (not
    // Fastify); its alias calls the action over NATS, the service found by moleculer's discovery.
    const { default: moleculer } = await import("moleculer");
    const { default: ApiGateway } = await import("moleculer-web");
    const namespace = `load${process.pid}`;
    const stopService = await startService("./moleculer-service.mjs", [servers, namespace]);
    const broker = new moleculer.ServiceBroker({
      namespace,
      nodeID: `gateway-${process.pid}`,
      transporter: { type: "NATS", options: { url: servers } },
      logger: false,
    });
    broker.createService({
      name: "api",
      mixins: [ApiGateway],
      settings: {
        ip: "127.0.0.1",
        port: 0,
        logRequest: false,
        logResponse: false,
        routes: [{ path: "/", aliases: { "POST orders": "orders.place" }, bodyParsers: { json: true } }],
      },
    });
    await broker.start();
    await broker.waitForServices("orders", 10_000);
    const { port } = broker.getLocalService("api").server.address();
    return {
      port,
      close: async () => {
        await broker.stop();
        await stopService();
      },
    };
  }

  const app = Fastify({ logger: false });
  if (mode === "bare") {
    app.post("/orders", async (request) => ({ orderId: `o-${request.body.sku}-${request.body.qty}` }));
  } else if (mode === "catga" || mode === "catga-nats") {
    const { createCatga, defineCommand } = await import("../../dist/index.js");
    const { catgaFastify } = await import("../../dist/fastify.js");
    const PlaceOrder = defineCommand("orders.place");
    let catga;
    if (mode === "catga") {
      catga = createCatga()
        .handle(PlaceOrder, ({ sku, qty }) => ({ orderId: `o-${sku}-${qty}` }))
        .build();
    } else {
      // Flow (b): the same route, the command handled by another process over NATS.
      const { natsTransport } = await import("../../dist/nats.js");
      const prefix = `load${process.pid}`;
      const stopService = await startService("./service.mjs", [servers, prefix]);
      const transport = await natsTransport({ servers, service: "gateway", prefix });
      catga = createCatga({ transport }).remote(PlaceOrder).build();
      app.addHook("onClose", stopService);
    }
    await app.register(catgaFastify, { catga });
    app.post("/orders", async (request, reply) =>
      reply.catga(await request.catga.send(PlaceOrder, request.body)),
    );
  } else {
    console.error(`usage: node benches/load/server.mjs bare|catga|catga-nats|moleculer (got ${mode})`);
    process.exit(2);
  }
  await app.listen({ port: 0, host: "127.0.0.1" });
  return { port: app.server.address().port, close: () => app.close() };
}

const { port, close } = await serve();
process.send?.({ port });
const stop = () => close().then(() => process.exit(0));
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
