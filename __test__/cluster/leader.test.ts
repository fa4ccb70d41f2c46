import { afterAll, describe, expect, it } from "vitest";
import { cluster, type Leadership, type LeaseTerm } from "../../ts/entries/cluster.js";
import { CatgaConfigError, CatgaError, ErrorCodes } from "../../ts/index.js";
import { next, TestCluster, until } from "./helpers.js";

const net = new TestCluster();
afterAll(() => net.close());

describe("leader election", () => {
  it("elects exactly one of four instances, and hands over with a larger token on resign", async () => {
    const members = await Promise.all(["l-1", "l-2", "l-3", "l-4"].map((id) => net.join({ instanceId: id })));
    const handles = members.map((m) => m.leader("jobs", { ttlMs: 1500 }));
    const elected = await Promise.race(
      handles.map((h) => next<[LeaseTerm]>(h, "elected").then(([t]) => [h, t] as const)),
    );
    const [first, term] = elected;
    expect(handles.filter((h) => h.isLeader)).toEqual([first]);
    expect(first.token).toBe(term.token);
    // Everyone agrees on who leads once they have read the key.
    await until(() => handles.every((h) => h.leader === first.leader), 5000, "followers to see the leader");
    // Renewals keep the term: same token a few renewals later.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(first.isLeader).toBe(true);
    expect(first.token).toBe(term.token);

    const others = handles.filter((h) => h !== first);
    const nextElected = Promise.race(
      others.map((h) => next<[LeaseTerm]>(h, "elected").then(([t]) => [h, t] as const)),
    );
    const revoked = next<[LeaseTerm]>(first, "revoked");
    await first.resign();
    expect((await revoked)[0].token).toBe(term.token);
    expect(first.isLeader).toBe(false);
    expect(first.token).toBeUndefined();
    const [second, secondTerm] = await nextElected;
    expect(secondTerm.token).toBeGreaterThan(term.token);
    expect(others.filter((h) => h.isLeader)).toEqual([second]);
    const counts = members.map((m) => m.stats().elections.get("jobs") ?? 0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
    for (const other of others) await other.resign();
  });

  it("knows it lost leadership the moment it runs again after a stall past its TTL", async () => {
    const member = await net.join({ instanceId: "l-stall" });
    const handle = member.leader("stall", { ttlMs: 500 });
    const [term] = await next<[LeaseTerm]>(handle, "elected");
    const revoked = next<[LeaseTerm]>(handle, "revoked");
    // The event loop blocked past the TTL, as a long GC pause or SIGSTOP would: no timer ran.
    const until = performance.now() + 1200;
    while (performance.now() < until);
    expect(handle.isLeader).toBe(false);
    expect(handle.token).toBeUndefined();
    expect((await revoked)[0]).toEqual(term);
    // Nobody else campaigns, so it leads again, in a new term with a larger token.
    const [again] = await next<[LeaseTerm]>(handle, "elected");
    expect(again.token).toBeGreaterThan(term.token);
    await handle.resign();
  });

  it("returns the same handle for the same name, and reports leadership in health", async () => {
    const member = await net.join({ instanceId: "l-health" });
    const handle: Leadership = member.leader("solo", { ttlMs: 1000 });
    expect(member.leader("solo")).toBe(handle);
    expect(member.leader("solo", { ttlMs: 1000 })).toBe(handle);
    // Another TTL for the same name would be ignored: refused, naming it.
    expect(() => member.leader("solo", { ttlMs: 5000 })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT, details: { field: "ttlMs" } }),
    );
    await next(handle, "elected");
    expect(member.health()).toMatchObject({
      status: "up",
      details: { instanceId: "l-health", leaders: { solo: { leader: "l-health", isLeader: true } } },
    });
    await member.close();
    expect(handle.isLeader).toBe(false);
    expect(member.health().status).toBe("down");
    expect(() => member.leader("other")).toThrow(expect.objectContaining({ code: ErrorCodes.CLOSED }));
    expect(() => member.setLoad(3)).toThrow(expect.objectContaining({ code: ErrorCodes.CLOSED }));
  });

  it("rejects bad names and TTLs with coded errors naming the field", async () => {
    const member = await net.join({ instanceId: "l-bad" });
    // 1 ms: never elected, silently (found from outside). 100 ms is the floor.
    for (const ttlMs of [0, -5, 1, 99.5, Number.NaN, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
      const error = (() => {
        try {
          member.leader("x", { ttlMs });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(CatgaConfigError);
      expect((error as CatgaConfigError).issues.map((i) => i.path)).toEqual(["leader.ttlMs"]);
    }
    for (const name of ["", ".x", "a..b", "a b", "a*", "n".repeat(1025), 42 as unknown as string]) {
      expect(() => member.leader(name)).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT, details: { field: "name" } }),
      );
    }
    expect(() => member.leader("x", { ttl: 5 } as never)).toThrow(CatgaConfigError);
  });

  it("rejects bad cluster options with one CatgaConfigError listing each field", async () => {
    const transport = await net.transport();
    const error = await cluster(transport, {
      instanceId: "",
      heartbeatMs: 0,
      version: "1.0",
      weight: -1,
      bucket: "a.b",
      service: "a.b",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "cluster.bucket",
      "cluster.heartbeatMs",
      "cluster.instanceId",
      "cluster.service",
      "cluster.version",
      "cluster.weight",
    ]);
    // Names that go into subjects: too long for the server's protocol line, refused up front.
    const long = "n".repeat(201);
    const tooLong = await cluster(transport, { instanceId: long, bucket: long, service: long }).catch(
      (e: unknown) => e,
    );
    expect((tooLong as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "cluster.bucket",
      "cluster.instanceId",
      "cluster.service",
    ]);
    const member = await net.join({ instanceId: "l-load" });
    expect(() => member.setLoad(-1)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => member.setLoad(Number.NaN)).toThrow(CatgaError);
    await expect(cluster({ transport: undefined })).rejects.toBeInstanceOf(CatgaConfigError);
  });
});
