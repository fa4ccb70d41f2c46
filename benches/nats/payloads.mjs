// The payload of the user-API rows: `{ data: <256 random bytes> }` objects, made once in the bench
// process and handed to every implementation, so all of them send the same bytes (nats.js raw
// sends the Buffer itself; each framework adds its own encoding around the object).

import { randomBytes } from "node:crypto";
import { PAYLOAD_BYTES, POOL } from "./common.mjs";

/** `count` distinct payload objects (a power of two, cycled through by senders). */
export function makePayloads(count = POOL) {
  return Array.from({ length: count }, () => ({ data: randomBytes(PAYLOAD_BYTES) }));
}
