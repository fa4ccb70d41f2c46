import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { JetStream } from "../../ts/jetstream/jetstream.js";
import type { NatsTransport } from "../../ts/transport/nats-transport.js";
import { until } from "../nats/helpers.js";

// Issue 16: per-key order for durable commands (`durableCommands.consumer.orderBy`). Postings of
// 20 accounts, 25 each, sent in order per account and concurrently across accounts; the handler
// fails the first attempt of one posting in five and takes a few ms at random, so retries and
// out-of-order completions happen: every account's postings must still run in the order sent,
// a failed one retried before the next one of its account runs.
const NATS = "nats://127.0.0.1:4222";
const prefix = `dorder${process.pid}`;
const Post = defineCommand("ledger.post").payload<{ account: string; seq: number }>().returns().durable();
const ACCOUNT_HEADER = "ledger-account";

const transports: NatsTransport[] = [];
afterAll(async () => {
  const admin = transports[0];
  if (admin !== undefined) {
    const js = new JetStream(admin.connection);
    const stream = `${prefix.toUpperCase()}_COMMANDS`;
    for (const name of [stream, `${stream}_DLQ`, `${stream}_RESULTS`])
      await js.deleteStream(name).catch(() => undefined);
  }
  await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
});

async function connect(service: string, durableCommands?: object): Promise<NatsTransport> {
  const transport = await natsTransport({
    servers: NATS,
    service,
    prefix,
    ...(durableCommands === undefined ? {} : { durableCommands }),
  });
  transports.push(transport);
  return transport;
}

describe("durable commands with orderBy", () => {
  it("runs each key's commands in the order sent, across failures and retries", async () => {
    const accounts = Array.from({ length: 20 }, (_, i) => `acct-${i}`);
    const perAccount = 25;
    /** Every handler call per account, in the order they started: the posting's seq. */
    const attempts = new Map<string, number[]>(accounts.map((a) => [a, []]));
    const failedOnce = new Set<string>();
    let done = 0;
    const ledgerTransport = await connect("ledger", {
      provision: { storage: "memory" },
      consumer: {
        orderBy: (m: { envelope: { headers: Record<string, string> } }) => m.envelope.headers[ACCOUNT_HEADER],
        batch: 64,
        fetchWaitMs: 100,
        backoffMs: [20],
        maxDeliver: 5,
      },
    });
    const ledger = createCatga({ logger: silentLogger, transport: ledgerTransport })
      .handle(Post, async ({ account, seq }) => {
        attempts.get(account)!.push(seq);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));
        const id = `${account}/${seq}`;
        if (seq % 5 === 2 && !failedOnce.has(id)) {
          failedOnce.add(id);
          throw new Error(`posting ${id} fails once`);
        }
        done++;
      })
      .build();
    await ledgerTransport.ready();

    const webTransport = await connect("web");
    const web = createCatga({ logger: silentLogger, transport: webTransport }).remote(Post).build();
    await Promise.all(
      accounts.map(async (account) => {
        for (let seq = 0; seq < perAccount; seq++) {
          const sent = await web.send(Post, { account, seq }, { headers: { [ACCOUNT_HEADER]: account } });
          expect(sent.ok).toBe(true);
        }
      }),
    );
    const total = accounts.length * perAccount;
    await until(() => done === total, 60_000, "every posting to be handled");

    for (const account of accounts) {
      const calls = attempts.get(account)!;
      // Consecutive calls of one posting are its retries; without them, the postings in order.
      const postings = calls.filter((seq, i) => i === 0 || calls[i - 1] !== seq);
      expect(postings, account).toEqual(Array.from({ length: perAccount }, (_, seq) => seq));
    }
    // The failures happened and were retried in place.
    expect(failedOnce.size).toBe(accounts.length * 5);
    await ledger.close();
  }, 90_000);
});
