// `clusterMembers` and `catga cluster members`: an operator lists the instances of every service
// from their heartbeats, without joining (no instance sees the listener as a member).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cluster } from "../../ts/entries/cluster.js";
import { clusterMembers } from "../../ts/entries/operations.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { NATS_URL, TestCluster } from "../cluster/helpers.js";
import { expectCode } from "../persistence/contract.js";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const Charge = defineCommand("billing.charge").payload<{ account: string }>().returns<string>();

const net = new TestCluster();
afterAll(() => net.close());

function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, CATGA_NATS_URL: NATS_URL }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
          stdout,
          stderr,
        }),
    );
  });
}

describe("cluster members for operators", () => {
  it("lists every instance heard, with what it announced; a goodbye removes it; the listener stays invisible", async () => {
    const billing = await net.transport("billing");
    const sharded = createCatga({ logger: silentLogger, transport: billing })
      .handle(Charge, ({ account }) => account, { shardBy: (p) => p.account })
      .build();
    const b = await cluster(sharded, {
      bucket: net.bucket,
      heartbeatMs: 200,
      instanceId: "billing-1",
      version: "2.1.0",
    });
    const a = await net.join({ service: "audit", instanceId: "audit-1", weight: 3 });
    const gone = await net.join({ service: "audit", instanceId: "audit-2" });

    const listed = await clusterMembers(billing, { waitMs: 600 });
    expect(listed.map((m) => m.instanceId)).toEqual(["audit-1", "audit-2", "billing-1"]);
    expect(listed[0]).toMatchObject({ service: "audit", weight: 3, heartbeatMs: 200 });
    expect(listed[2]).toMatchObject({ service: "billing", version: "2.1.0", shards: ["billing.charge"] });
    expect(listed[2]).not.toHaveProperty("self");
    // Listening is not joining: the members still see only each other.
    expect(
      a
        .members()
        .map((m) => m.instanceId)
        .sort(),
    ).toEqual(["audit-1", "audit-2", "billing-1"]);

    const onlyAudit = await clusterMembers(billing.connection, {
      prefix: net.prefix,
      waitMs: 600,
      service: "audit",
    });
    expect(onlyAudit.map((m) => m.instanceId)).toEqual(["audit-1", "audit-2"]);

    await gone.close();
    const run = await cli(["cluster", "members", "--prefix", net.prefix, "--wait", "600", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const fromCli = JSON.parse(run.stdout) as { instanceId: string; service: string }[];
    expect(fromCli.map((m) => m.instanceId)).toEqual(["audit-1", "billing-1"]);

    const text = await cli([
      "cluster",
      "members",
      "--prefix",
      net.prefix,
      "--wait",
      "600",
      "--service",
      "billing",
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^SERVICE\s+INSTANCE\s+VERSION/);
    expect(text.stdout).toMatch(/billing\s+billing-1\s+2\.1\.0\s+1\s+0\s+200 ms\s+\S+\s+billing\.charge/);
    await b.close();
    await sharded.close();
  });

  it("refuses bad input with coded errors and usage exits", async () => {
    const transport = await net.transport("ops");
    await expectCode(clusterMembers(transport, { waitMs: 0 }), "CATGA_INVALID_ARGUMENT");
    await expectCode(clusterMembers(transport, { service: "" }), "CATGA_INVALID_ARGUMENT");
    await expectCode(clusterMembers({} as never), "CATGA_INVALID_ARGUMENT");
    for (const wait of ["0", "soon"]) {
      const run = await cli(["cluster", "members", "--wait", wait]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/wait/);
    }
    const nothing = await cli(["cluster", "members", "--prefix", `${net.prefix}-empty`, "--wait", "300"]);
    expect(nothing.stdout).toBe("no instances heard within 300 ms\n");
  });
});
