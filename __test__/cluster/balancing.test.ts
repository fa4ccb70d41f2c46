import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, cluster } from "../../ts/entries/cluster.js";
import {
  type BalanceStrategy,
  CatgaConfigError,
  createCatga,
  defineCommand,
  defineQuery,
  ErrorCodes,
  silentLogger,
} from "../../ts/index.js";
import { sleep, TestCluster, until } from "./helpers.js";

// Load balancing and failover of remote sends per strategy (docs/architecture/cluster.md, "Load balancing"):
// three instances of a service in this process, each with its own connection and membership.
const Who = defineQuery("bal.who").payload<{ key: string }>().returns<string>();
const Bump = defineCommand("bal.bump").payload<{ key: string }>().returns<string>();

const net = new TestCluster();
const closers: (() => Promise<void>)[] = [];
/** Per instance: extra handler delay (ms), or "hang" to stop answering. */
const behaviour = new Map<string, number | "hang">();
const hung: (() => void)[] = [];

async function server(id: string, weight: number): Promise<Cluster> {
  const transport = await net.transport("bal");
  const answer = async (): Promise<string> => {
    const mode = behaviour.get(id) ?? 0;
    if (mode === "hang") await new Promise<void>((resolve) => hung.push(resolve));
    else if (mode > 0) await sleep(mode);
    return id;
  };
  const catga = createCatga({ transport, logger: silentLogger })
    .handle(Who, answer)
    .handle(Bump, answer)
    .build();
  const member = await cluster(catga, {
    bucket: net.bucket,
    instanceId: id,
    weight,
    heartbeatMs: 200,
    discovery: false,
  });
  closers.push(() => member.close());
  return member;
}

async function sender(balance: BalanceStrategy, extra: { attemptTimeoutMs?: number } = {}) {
  const transport = await net.transport(`caller-${balance}`);
  const catga = createCatga({ transport, logger: silentLogger })
    .remote(Who, Bump)
    .route(Who, { balance, hashBy: (p) => p.key, ...extra })
    .route(Bump, { balance, hashBy: (p) => p.key, ...extra })
    .build();
  const member = await cluster(catga, { bucket: net.bucket, heartbeatMs: 200, discovery: false });
  closers.push(() => member.close());
  await until(
    () => member.members().filter((m) => m.serves.includes("bal.who")).length === 3,
    5000,
    "3 servers",
  );
  return catga;
}

async function spread(catga: Awaited<ReturnType<typeof sender>>, count: number, parallel = 1) {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        const result = await catga.query(Who, { key: `k${i}` });
        expect(result.ok).toBe(true);
        if (result.ok) counts.set(result.value, (counts.get(result.value) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

beforeAll(async () => {
  await Promise.all([server("b-1", 1), server("b-2", 1), server("b-3", 2)]);
});

afterAll(async () => {
  for (const release of hung) release();
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await net.close();
});

describe("load balancing of remote sends", () => {
  it("round-robin: each instance in turn", async () => {
    const counts = await spread(await sender("round-robin"), 60);
    expect([...counts.values()]).toEqual([20, 20, 20]);
  });

  it("weighted-random: in proportion to weight", async () => {
    const counts = await spread(await sender("weighted-random"), 400, 8);
    expect(counts.get("b-3")! / 400).toBeGreaterThan(0.35);
    expect(counts.get("b-3")! / 400).toBeLessThan(0.65);
    expect(counts.get("b-1")! / 400).toBeGreaterThan(0.1);
    expect(counts.get("b-2")! / 400).toBeGreaterThan(0.1);
  });

  it("least-outstanding: concurrent sends spread over every instance", async () => {
    behaviour.set("b-1", 10).set("b-2", 10).set("b-3", 10);
    const counts = await spread(await sender("least-outstanding"), 90, 9);
    behaviour.clear();
    for (const id of ["b-1", "b-2", "b-3"]) expect(counts.get(id)).toBeGreaterThanOrEqual(15);
  });

  it("consistent-hash: one key, one instance; keys over several", async () => {
    const catga = await sender("consistent-hash");
    const owners = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++)
      for (let k = 0; k < 30; k++) {
        const result = await catga.query(Who, { key: `key-${k}` });
        if (result.ok) owners.set(`key-${k}`, (owners.get(`key-${k}`) ?? new Set()).add(result.value));
      }
    for (const set of owners.values()) expect(set.size).toBe(1);
    expect(new Set([...owners.values()].flatMap((s) => [...s])).size).toBeGreaterThanOrEqual(2);
  });

  it("consistent-hash: a key that is not a string fails the send with CATGA_INVALID_ARGUMENT naming hashBy", async () => {
    const catga = await sender("consistent-hash");
    // hashBy is `(p) => p.key`: a number, no key, and a payload it throws on.
    for (const payload of [{ key: 42 }, {}, null]) {
      const result = await catga.query(Who, payload as never);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe(ErrorCodes.INVALID_ARGUMENT);
        expect(result.error.details).toEqual({ field: "hashBy" });
      }
    }
  });

  it("adaptive: a slow instance gets fewer sends", async () => {
    behaviour.set("b-2", 40);
    const counts = await spread(await sender("adaptive"), 120);
    behaviour.clear();
    expect((counts.get("b-2") ?? 0) / 120).toBeLessThan(0.2);
  });

  it("fails an idempotent send over to another instance when one stops answering, then skips it", async () => {
    behaviour.set("b-1", "hang");
    const catga = await sender("round-robin", { attemptTimeoutMs: 300 });
    const counts = await spread(catga, 30);
    expect(counts.get("b-1")).toBeUndefined();
    expect((counts.get("b-2") ?? 0) + (counts.get("b-3") ?? 0)).toBe(30);
    // Skipped after its first silence: at most one send waited for it.
    expect(hung.length).toBe(1);
    // A command is not idempotent by default: its one attempt times out rather than run twice.
    let timedOut = false;
    for (let i = 0; i < 6 && !timedOut; i++) {
      await sleep(700); // past the skip period, so round-robin comes back to b-1
      const result = await catga.send(Bump, { key: "x" });
      timedOut = !result.ok && result.error.code === ErrorCodes.TIMEOUT;
    }
    expect(timedOut).toBe(true);
    behaviour.clear();
    for (const release of hung.splice(0)) release();
  }, 30_000);
});

describe("load balancing: bad input", () => {
  it("refuses unknown strategies, consistent-hash without hashBy and routes of contracts not remote", () => {
    const build = () =>
      createCatga({ logger: silentLogger })
        .remote(Who)
        // @ts-expect-error: not a strategy
        .route(Who, { balance: "random-ish" })
        .handle(Bump, () => "here")
        .route(Bump, { balance: "consistent-hash" })
        .build();
    try {
      build();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CatgaConfigError);
      const paths = (error as CatgaConfigError).details.map((i) => i.path);
      expect(paths).toContain("routes.bal.who.balance");
      expect(paths).toContain("routes.bal.bump.hashBy");
      expect(paths).toContain("routes.bal.bump");
    }
  });

  it("refuses attempt timeouts that are not positive integers and a strategy that is not a string", () => {
    for (const attemptTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      const build = () =>
        createCatga({ logger: silentLogger })
          .remote(Who, Bump)
          .route(Who, { attemptTimeoutMs })
          // @ts-expect-error: a strategy is one of BALANCE_STRATEGIES
          .route(Bump, { balance: 42 })
          .build();
      const error = (() => {
        try {
          build();
        } catch (thrown) {
          return thrown;
        }
      })();
      expect(error).toBeInstanceOf(CatgaConfigError);
      const paths = (error as CatgaConfigError).details.map((i) => i.path);
      // (Also "remote": remote contracts need a transport, and this builder has none.)
      expect(paths.filter((path) => path.startsWith("routes.")).sort()).toEqual([
        "routes.bal.bump.balance",
        "routes.bal.who.attemptTimeoutMs",
      ]);
    }
    // Declared twice: the second would replace the first silently.
    const twice = (() => {
      try {
        createCatga({ logger: silentLogger })
          .remote(Who)
          .route(Who, { balance: "round-robin" })
          .route(Who, { balance: "least-outstanding" })
          .build();
      } catch (thrown) {
        return thrown as CatgaConfigError;
      }
    })();
    expect(twice?.details.filter((i) => i.path.startsWith("routes."))).toEqual([
      { path: "routes.bal.who", message: "route() is declared twice for this contract" },
    ]);
  });
});
