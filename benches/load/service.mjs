// The service behind the gateway of flow (b) (benches/load/server.mjs catga-nats): handles
// PlaceOrder over NATS in its own process. Reports { ready: true } over IPC once its
// subscriptions are live, and { handled } (commands handled so far) when sent "handled"; exits
// when the parent goes away or sends "stop".
import { createCatga, defineCommand } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";

const [servers, prefix] = process.argv.slice(2);
const PlaceOrder = defineCommand("orders.place");
const transport = await natsTransport({ servers, service: "orders", prefix });
let handled = 0;
const catga = createCatga({ transport })
  .handle(PlaceOrder, ({ sku, qty }) => {
    handled++;
    return { orderId: `o-${sku}-${qty}` };
  })
  .build();
await transport.ready();
process.send?.({ ready: true });
const stop = () => catga.close().then(() => process.exit(0));
process.on("message", (message) => {
  if (message === "stop") stop();
  else if (message === "handled") process.send({ handled });
});
process.on("disconnect", stop);
