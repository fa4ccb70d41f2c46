// KeyedOrder (orderBy) after a crash, without a server: a restarted consumer gets the dead
// process's unacked messages back in the order their ack waits ran out, which is not stream order
// when the dead process kept an older message alive longer. The server's state is scripted here.
import { describe, expect, it } from "vitest";
import type { DurableMessage } from "../../ts/jetstream/jetstream.js";
import { type ConsumerState, type Decision, KeyedOrder } from "../../ts/jetstream/ordered.js";

const message = (streamSequence: number, key: string, deliveryCount = 2): DurableMessage =>
  ({ subject: `k.${key}`, streamSequence, deliveryCount, headers: {} }) as unknown as DurableMessage;

/** A KeyedOrder over a scripted server: `server.state` is what `state()` answers. */
function scripted(start: ConsumerState, ackWaitMs = 30_000) {
  const server = { state: start };
  const handled: number[] = [];
  const acked = new Set<number>();
  const order = new KeyedOrder({
    start,
    attempt: async (m) => {
      handled.push(m.streamSequence);
      return { action: "ack" };
    },
    keyOf: (m) => m.subject,
    keyFailed: () => ({ action: "dlq" }),
    settle: async (sequences: number[], decisions: Decision[]) => {
      for (let i = 0; i < decisions.length; i++) if (decisions[i]!.action === "ack") acked.add(sequences[i]!);
      server.state = { ...server.state, ackPending: server.state.ackPending - sequences.length };
    },
    state: async () => server.state,
    ackWaitMs,
  });
  return { order, server, handled, acked };
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("KeyedOrder after a crash", () => {
  it("runs the dead process's redeliveries per key in stream order, however they come back", async () => {
    // Before the restart: 1..900 delivered, 100..900 unacked (801 pending, all the dead one's).
    const { order, server, handled, acked } = scripted({ ackFloor: 99, delivered: 900, ackPending: 801 });
    // The newer message of key a comes back first, then the older one, in separate fetches.
    const first: Decision[] = [];
    await order.onBatch([message(864, "a")], first);
    expect(handled).toEqual([]);
    expect(first[0]).toEqual({ action: "hold" });
    // Only these two are still pending once the rest of the backlog was acked elsewhere.
    server.state = { ...server.state, ackPending: 2 };
    const second: Decision[] = [];
    await order.onBatch([message(769, "a")], second);
    await until(() => handled.length === 2);
    expect(handled).toEqual([769, 864]);
    await until(() => acked.size === 2);
    await order.stop();
  });

  it("keeps waiting while messages it does not hold are still pending on the server", async () => {
    const { order, server, handled } = scripted({ ackFloor: 10, delivered: 20, ackPending: 10 });
    await order.onBatch([message(15, "b"), message(21, "c", 1)], []);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(handled).toEqual([]); // 10 pending, 2 in hand: older ones may still come back
    server.state = { ...server.state, ackPending: 2 };
    await until(() => handled.length === 2);
    expect(handled.sort((x, y) => x - y)).toEqual([15, 21]);
    await order.stop();
  });

  it("with a live instance always holding some, lifts once the ack wait has passed since start", async () => {
    // Another instance keeps 5 messages in flight forever: the pending count never comes down to
    // ours. After ackWaitMs (+ slack) every message of the crashed one has come back.
    const { order, handled } = scripted({ ackFloor: 10, delivered: 20, ackPending: 15 }, 300);
    const startedAt = Date.now();
    await order.onBatch([message(18, "d"), message(12, "d")], []);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(handled).toEqual([]);
    await until(() => handled.length === 2, 10_000);
    expect(handled).toEqual([12, 18]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    await order.stop();
  });
});
