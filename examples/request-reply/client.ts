// Request/reply across two processes: this process starts the pricing service as a child
// process, then queries it over NATS (core request/reply to the service's queue group). The
// handler's code is unchanged from an in-process one; only the transport differs.
// Needs NATS. Run: npm run example:request-reply
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { createCatga } from "../../dist/index.js";
import { natsTransport } from "../../dist/nats.js";
import { NATS_URL, needs, PREFIX } from "../services.js";
import { GetQuote } from "./contracts.js";

const transport = await natsTransport({ servers: NATS_URL, service: "web", prefix: PREFIX }).catch(
  needs("NATS"),
);
// `.remote()`: handled elsewhere, yet typed here like a local handler would be.
const web = createCatga({ transport }).remote(GetQuote).build();

// Same node flags (the TypeScript loader) for the child; wait until it says "ready".
const service = spawn(
  process.execPath,
  [...process.execArgv, new URL("pricing-service.ts", import.meta.url).pathname],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const [line] = await once(createInterface({ input: service.stdout }), "line");
if (line !== "ready") throw new Error(`pricing service said ${line}`);

const quote = (await web.query(GetQuote, { sku: "tea", quantity: 3 })).unwrap();
console.log(
  `quote: ${quote.cents} cents, served by ${quote.servedBy === service.pid ? "the pricing process" : "?"}`,
);
const unknown = await web.query(GetQuote, { sku: "sofa", quantity: 1 });
console.log("unknown sku:", unknown.ok ? "priced" : unknown.error.code);

// Request/reply is at most once: with the service gone, nobody answers and the caller is told so.
service.kill("SIGTERM");
await once(service, "exit");
const orphan = await web.query(GetQuote, { sku: "tea", quantity: 1 });
console.log("service stopped:", orphan.ok ? "answered" : orphan.error.code);
await web.close();
