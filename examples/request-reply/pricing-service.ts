// The pricing service: answers `pricing.quote` over NATS until SIGTERM. Started by client.ts.
import { CatgaError, createCatga } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { NATS_URL, needs, PREFIX } from "../services.js";
import { GetQuote } from "./contracts.js";

const prices = new Map([
  ["tea", 450],
  ["mug", 1200],
]);
const transport = await natsTransport({ servers: NATS_URL, service: "pricing", prefix: PREFIX }).catch(
  needs("NATS"),
);
const catga = createCatga({ transport })
  .handle(GetQuote, ({ sku, quantity }) => {
    const price = prices.get(sku);
    // A domain error keeps its code across the wire: the caller matches on it.
    if (price === undefined) throw new CatgaError("PRICING_UNKNOWN_SKU", `no price for ${sku}`);
    return { cents: price * quantity, servedBy: process.pid };
  })
  .build();
await transport.ready(); // the subscription is live: requests from now on reach this process
console.log("ready");

// close() drains: requests already received are answered before the connection goes.
process.once("SIGTERM", () => void catga.close().then(() => process.exit(0)));
