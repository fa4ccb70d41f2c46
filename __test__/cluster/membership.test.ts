import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, RequestStrategy } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import type { Member } from "../../ts/entries/cluster.js";
import { NATS_URL, next, TestCluster, until } from "./helpers.js";

const net = new TestCluster();
afterAll(() => net.close());

const ids = (members: readonly Member[]) => members.map((m) => m.instanceId).sort();

describe("membership", () => {
  it("lists every instance with what it registered, and reports joins and goodbyes", async () => {
    const a = await net.join({ instanceId: "m-a", version: "1.2.3", weight: 2 });
    const joined = next<[Member]>(a, "join");
    const b = await net.join({ instanceId: "m-b", load: () => 7 });
    const [member] = await joined;
    expect(member).toMatchObject({
      service: "svc",
      instanceId: "m-b",
      version: "0.0.0",
      weight: 1,
      self: false,
    });
    // The newcomer hears from everyone already there within a round trip, not an interval.
    await until(() => b.members().length === 2, 5000, "b to see a");
    expect(ids(a.members())).toEqual(["m-a", "m-b"]);
    const seenByB = b.members().find((m) => m.instanceId === "m-a");
    expect(seenByB).toMatchObject({ version: "1.2.3", weight: 2, self: false });
    expect(seenByB?.startedAt).toBeGreaterThan(Date.now() - 60_000);
    await until(() => a.members().find((m) => m.instanceId === "m-b")?.load === 7, 5000, "b's load");
    expect(a.members()[0]).toMatchObject({ instanceId: "m-a", self: true });
    expect(a.members("other")).toEqual([]);

    const left = next<[Member, string]>(a, "leave");
    await b.close();
    const [gone, reason] = await left;
    expect([gone.instanceId, reason]).toEqual(["m-b", "left"]);
    expect(ids(a.members())).toEqual(["m-a"]);
    // A closed instance keeps no view: it left, and nothing would update the list any more.
    expect(b.members()).toEqual([]);
  });

  it("drops an instance killed with SIGKILL within two heartbeat intervals", async () => {
    const watcher = await net.join({ instanceId: "m-watch", heartbeatMs: 300 });
    const script = fileURLToPath(new URL("./member-child.mjs", import.meta.url));
    const child = spawn(process.execPath, [script, net.prefix, net.bucket, "m-doomed", "300"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, NATS_URL },
    });
    try {
      await until(
        () => watcher.members().some((m) => m.instanceId === "m-doomed"),
        20_000,
        "the child to join",
      );
      const left = next<[Member, string]>(watcher, "leave");
      child.kill("SIGKILL");
      const killedAt = performance.now();
      const [gone, reason] = await left;
      const tookMs = performance.now() - killedAt;
      expect([gone.instanceId, reason]).toEqual(["m-doomed", "expired"]);
      // The bound the design promises (1.5 intervals + one sweep); a timer-lag allowance on a shared machine.
      expect(tookMs).toBeLessThan(2 * 300 + 250);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("answers NATS service discovery ($SRV.PING / INFO / STATS) as the service", async () => {
    const member = await net.join({ service: "discoverable", instanceId: "m-disc", version: "2.0.1" });
    const nc = await connect({ servers: NATS_URL });
    try {
      const client = nc.services.client({ strategy: RequestStrategy.Timer, maxWait: 500 });
      const pings = [];
      for await (const ping of await client.ping("discoverable")) pings.push(ping);
      expect(pings).toHaveLength(1);
      expect(pings[0]).toMatchObject({
        name: "discoverable",
        version: "2.0.1",
        metadata: { "catga.instance": "m-disc", "catga.weight": "1" },
      });
      const infos = [];
      for await (const info of await client.info("discoverable")) infos.push(info);
      expect(infos[0]).toMatchObject({ name: "discoverable", description: "Catga service discoverable" });
      const stats = [];
      for await (const stat of await client.stats("discoverable", pings[0]!.id)) stats.push(stat);
      expect(stats[0]).toMatchObject({ name: "discoverable", id: pings[0]!.id });
      // A raw request, as `nats req '$SRV.PING.discoverable' ''` sends it: plain JSON back.
      const raw = await nc.request("$SRV.PING.discoverable", new Uint8Array(), { timeout: 2000 });
      expect(JSON.parse(new TextDecoder().decode(raw.data))).toMatchObject({
        type: "io.nats.micro.v1.ping_response",
        name: "discoverable",
      });
      await member.close();
      // Closed: nobody answers any more (NATS says "no responders", 503).
      await expect(
        nc.request("$SRV.PING.discoverable", new Uint8Array(), { timeout: 2000 }),
      ).rejects.toMatchObject({
        code: "503",
      });
    } finally {
      await nc.close();
    }
  });
});
