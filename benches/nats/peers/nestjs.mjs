// Peer for the "nestjs" rows: a NestJS 11 microservice on Transport.NATS with its default
// (JSON) serializer, one controller whose handlers are bound with @EventPattern / @MessagePattern
// (applied by hand: the benches are plain JS, no decorator build). What a Nest service costs per
// event or per request.
//   events: @EventPattern(bench.<tag>.nestjs.evt) handler that counts
//   rr:     @MessagePattern(bench.<tag>.nestjs.rr) handler that returns its data (queue "bench-rr")
//   node benches/nats/peers/nestjs.mjs <events|rr> <tag>

import "reflect-metadata";
import { Controller, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { EventPattern, MessagePattern, Transport } from "@nestjs/microservices";
import { NATS_URL } from "../common.mjs";
import { subjectOf } from "../names.mjs";
import { linkToParent, startPeer } from "./parent-link.mjs";

const { mode, tag } = startPeer();
let count = 0;
let served = 0;

class BenchController {
  onEvent(_data) {
    count++;
  }

  echo(data) {
    served++;
    return data;
  }
}
const proto = BenchController.prototype;
if (mode === "events") {
  const method = "onEvent";
  EventPattern(subjectOf(tag, "nestjs", "evt"))(
    proto,
    method,
    Object.getOwnPropertyDescriptor(proto, method),
  );
} else {
  const method = "echo";
  MessagePattern(subjectOf(tag, "nestjs", "rr"))(
    proto,
    method,
    Object.getOwnPropertyDescriptor(proto, method),
  );
}
Controller()(BenchController);
class BenchModule {}
Module({ controllers: [BenchController] })(BenchModule);

const app = await NestFactory.createMicroservice(BenchModule, {
  transport: Transport.NATS,
  options: {
    servers: [NATS_URL],
    name: `bench-peer-nestjs-${mode}`,
    queue: mode === "rr" ? "bench-rr" : undefined,
  },
  logger: false,
});
await app.listen();
// The subscriptions are live on the server once this round trip returns.
await app.unwrap().flush();
linkToParent(
  mode,
  () => ({ count, served }),
  () => app.close(),
);
