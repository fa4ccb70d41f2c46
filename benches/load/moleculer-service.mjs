// The moleculer peer of benches/load/service.mjs: a ServiceBroker on moleculer's NATS transporter
// with an `orders` service whose `place` action answers { orderId } from the body, as the Catga
// service does. Started by benches/load/server.mjs moleculer; reports { ready: true } over IPC once
// its broker has started (and announced the service on NATS); exits on "stop" or when the parent
// goes away.
import moleculer from "moleculer";

const [servers, namespace] = process.argv.slice(2);
const broker = new moleculer.ServiceBroker({
  namespace,
  nodeID: `orders-${process.pid}`,
  transporter: { type: "NATS", options: { url: servers } },
  logger: false,
});
broker.createService({
  name: "orders",
  actions: {
    place(ctx) {
      return { orderId: `o-${ctx.params.sku}-${ctx.params.qty}` };
    },
  },
});
await broker.start();
process.send?.({ ready: true });
const stop = () => broker.stop().then(() => process.exit(0));
process.on("message", (message) => message === "stop" && stop());
process.on("disconnect", stop);
