import { connect, type NatsConnection as NatsJsConnection } from "nats";
import { afterEach, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineEvent, silentLogger } from "../../ts/index.js";
import { NatsCluster } from "../nats/cluster.js";
import { until } from "../nats/helpers.js";

// Issue 14, item 13: a durable consumer (durableEvents, through the mediator) on a 3-node cluster
// keeps making progress when a node dies, (a) the node leading its consumer or (b) the node its
// client is connected to, instead of waiting for the dead node to come back. Measured: the longest
// time without a handled event, against the election (kill → the consumer, and the stream, have
// a live leader again, as `consumers.info` / `streams.info` report it).

const Tick = defineEvent("ticks.made").payload<{ id: string }>();
const PREFIX = "fo";
const STREAM = "FO_EVENTS";
const DURABLE = "shipping-ticks_made";
const CONSUMER_CLIENT = "failover-consumer";
// A short ack wait, safe with in-progress acks: a message whose delivery was lost with the dead
// node comes back after it, so it bounds when *every* event has been handled.
const ACK_WAIT_MS = 4000;
// The bound asserted: the election, plus the 2 s goal, plus a margin for this loaded 2-core
// machine running three servers and the test (see docs/architecture/jetstream.md, "Consumer failover").
const GOAL_MS = 2000;
const LOADED_MARGIN_MS = 1500;

type Target = "consumer leader" | "client's node";

let cluster: NatsCluster | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await cluster?.dispose();
  cluster = undefined;
});

/** Time until `leaderOf()` names a live leader other than `dead` (polled every 50 ms). */
async function electionMs(killedAt: number, dead: string, leaderOf: () => Promise<string | undefined>) {
  for (;;) {
    const leader = await leaderOf().catch(() => undefined);
    if (leader !== undefined && leader !== dead) return Date.now() - killedAt;
    if (Date.now() - killedAt > 30_000) throw new Error("no new leader in 30 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Steps the leader down (`stepdown` subject) until `leaderOf()` names a node other than `avoid`. */
async function leaderIsNot(
  admin: NatsJsConnection,
  stepdown: string,
  leaderOf: () => Promise<string | undefined>,
  avoid: string,
): Promise<string> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const leader = await leaderOf().catch(() => undefined);
    if (leader !== undefined && leader !== avoid) return leader;
    if (leader === avoid) await admin.request(stepdown, undefined, { timeout: 5000 }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`the leader stays on ${avoid}`);
}

async function killUnderTraffic(target: Target) {
  cluster = await NatsCluster.start(3, `fo${process.pid}${target === "consumer leader" ? "a" : "b"}`);
  const c = cluster;
  const admin = await connect({ servers: c.urls });
  closers.push(() => admin.close());
  const durableEvents = {
    provision: { replicas: 3 },
    consumer: { ackWaitMs: ACK_WAIT_MS },
  };

  const handledAt = new Map<string, number>();
  let lastHandledAt = 0;
  const gaps: { at: number; ms: number }[] = [];
  // The meta leader is elected after start-up: the transport (which provisions the stream) is
  // retried until it is.
  let consumerTransport: Awaited<ReturnType<typeof natsTransport>> | undefined;
  for (let attempt = 0; consumerTransport === undefined; attempt++) {
    consumerTransport = await natsTransport({
      servers: c.urls,
      service: "shipping",
      prefix: PREFIX,
      name: CONSUMER_CLIENT,
      durableEvents,
    }).catch(async (error) => {
      if (attempt > 60) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
      return undefined;
    });
  }
  const shipping = createCatga({ logger: silentLogger, transport: consumerTransport })
    .handle(Tick, (event) => {
      const now = Date.now();
      if (!handledAt.has(event.id)) {
        if (lastHandledAt > 0) gaps.push({ at: lastHandledAt, ms: now - lastHandledAt });
        lastHandledAt = now;
        handledAt.set(event.id, now);
      }
    })
    .build();
  closers.push(() => shipping.close());
  await consumerTransport.ready();
  const jsm = await admin.jetstreamManager({ timeout: 1000 });

  // Leader and client on different nodes, so each case kills one of them only; the stream's
  // leader elsewhere too, so the publisher keeps publishing and the stall is the consumer's.
  const consumerLeaderOf = async () => (await jsm.consumers.info(STREAM, DURABLE)).cluster?.leader;
  const streamLeaderOf = async () => (await jsm.streams.info(STREAM)).cluster?.leader;
  const clientNode = await c.nodeOf(CONSUMER_CLIENT);
  const clientNodeName = `${c.name}-n${clientNode}`;
  const stepConsumer = `$JS.API.CONSUMER.LEADER.STEPDOWN.${STREAM}.${DURABLE}`;
  const consumerLeader = await leaderIsNot(admin, stepConsumer, consumerLeaderOf, clientNodeName);
  const killed = target === "consumer leader" ? c.indexOf(consumerLeader) : clientNode;
  const killedName = `${c.name}-n${killed}`;
  const stepStream = `$JS.API.STREAM.LEADER.STEPDOWN.${STREAM}`;
  const streamLeader = await leaderIsNot(admin, stepStream, streamLeaderOf, killedName);
  // Stepping the stream down may have moved the consumer: check the layout again.
  expect(await c.nodeOf(CONSUMER_CLIENT)).toBe(clientNode);
  expect(await consumerLeaderOf()).toBe(consumerLeader);

  // The publisher stays away from the node to be killed, so its own failover is not measured.
  const publisherTransport = await natsTransport({
    servers: c.urls.filter((_, i) => i !== killed),
    service: "orders",
    prefix: PREFIX,
    durableEvents: { ...durableEvents, provision: false },
  });
  const orders = createCatga({ logger: silentLogger, transport: publisherTransport }).build();
  closers.push(() => orders.close());
  const published: string[] = [];
  const failures: string[] = [];
  let running = true;
  const publisher = (async () => {
    for (let n = 0; running; n++) {
      const id = `t${n}`;
      const result = await orders.publish(Tick, { id });
      if (result.ok) published.push(id);
      else failures.push(`${id}: ${result.error.code}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();

  await until(() => handledAt.size >= 100, 30_000, "100 events handled before the kill");
  const killedAt = Date.now();
  await c.kill(killed);
  const consumerElection =
    consumerLeader === killedName ? electionMs(killedAt, killedName, consumerLeaderOf) : Promise.resolve(0);
  const handledAtKill = handledAt.size;
  await until(() => handledAt.size >= handledAtKill + 200, 45_000, "200 more events handled after the kill");
  running = false;
  await publisher;
  await until(() => published.every((id) => handledAt.has(id)), 30_000, "every published event handled");
  const electionTook = await consumerElection;
  const stallMs = Math.max(...gaps.filter((g) => g.at + g.ms >= killedAt).map((g) => g.ms));
  console.log(
    `consumer failover, killed the ${target} (${killedName}; stream leader ${streamLeader}): ` +
      `longest time without a handled event ${stallMs} ms, consumer leader elected after ${electionTook} ms, ` +
      `${published.length} published, ${handledAt.size} handled, ${failures.length} publish failures`,
  );
  expect(failures).toEqual([]);
  expect(published.filter((id) => !handledAt.has(id))).toEqual([]);
  expect(stallMs).toBeLessThanOrEqual(electionTook + GOAL_MS + LOADED_MARGIN_MS);
}

describe("durable consumer failover on a 3-node cluster (issue 14, item 13)", () => {
  it(
    "keeps handling when the node leading the consumer is killed",
    () => killUnderTraffic("consumer leader"),
    90_000,
  );
  it(
    "keeps handling when the node its client is connected to is killed",
    () => killUnderTraffic("client's node"),
    90_000,
  );
});
