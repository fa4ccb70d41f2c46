// Bench-process side of the "nestjs" rows: a NestJS 11 ClientProxy on Transport.NATS (default
// JSON serializer). Events: client.emit(pattern, payload); requests:
// firstValueFrom(client.send(pattern, payload).pipe(timeout(5000))) — Nest's documented way to
// bound a request. Peer: peers/nestjs.mjs.

import "reflect-metadata";
import { ClientProxyFactory, Transport } from "@nestjs/microservices";
import { firstValueFrom, lastValueFrom, timeout } from "rxjs";
import { NATS_URL, POOL } from "../common.mjs";
import { subjectOf } from "../names.mjs";

export const label = "nestjs";
// Nest sends JSON: the 256-byte Buffer becomes {"type":"Buffer","data":[…]}, about 1 KB a message.
// 65,536 of them undelivered would be the server's whole 64 MiB slow-consumer allowance; a quarter
// of that still keeps the subscriber busy (it hears about progress every 5 ms).
export const window = 16_384;
const MASK = POOL - 1;

export const peerFor = (mode, tag) => ({ script: "peers/nestjs.mjs", args: [mode, tag] });

export async function open(mode, tag, payloads) {
  const client = ClientProxyFactory.create({
    transport: Transport.NATS,
    options: { servers: [NATS_URL], name: `bench-client-nestjs-${mode}` },
  });
  await client.connect();
  const events = subjectOf(tag, "nestjs", "evt");
  const requests = subjectOf(tag, "nestjs", "rr");
  return {
    /** `emit` is hot (sent without a subscriber); the last one's completion is awaited. */
    emitChunk(start, n) {
      let last;
      for (let i = 0; i < n; i++) last = client.emit(events, payloads[(start + i) & MASK]);
      return lastValueFrom(last, { defaultValue: undefined });
    },
    request: (i) => firstValueFrom(client.send(requests, payloads[i & MASK]).pipe(timeout(5000))),
    close: () => client.close(),
  };
}
