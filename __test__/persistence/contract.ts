import { afterAll, describe, expect, it } from "vitest";
import type { BatchIdempotencyStore, StoreLimits } from "../../ts/entries/persistence.js";
import {
  CatgaError,
  createCatga,
  defineCommand,
  ErrorCodes,
  err,
  type IdempotencyClaims,
  type Result,
  type StoredOutcome,
  silentLogger,
} from "../../ts/index.js";
import { eventually, sleep } from "./helpers.js";

export interface ContractOptions {
  /** The store checks keys, TTLs and sizes (the in-memory store does not). */
  readonly validates?: boolean;
  /** Builds the same kind of store pointed at a server that is not there. */
  readonly down?: () => Promise<BatchIdempotencyStore>;
  readonly cleanup?: () => Promise<void>;
}

/** Expects `promise` to reject with a CatgaError of `code` whose message mentions `operation`. */
export async function expectCode(
  promise: Promise<unknown>,
  code: string,
  operation?: string,
): Promise<CatgaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(CatgaError);
  const coded = error as CatgaError;
  expect(coded.code).toBe(code);
  if (operation !== undefined) expect(coded.message).toContain(operation);
  return coded;
}

/**
 * The behavior every idempotency store must share, run against each implementation (in-memory,
 * PostgreSQL, Redis). `factory` builds a fresh, empty store; `limits` are only passed to stores
 * that validate.
 */
export function describeIdempotencyStoreContract(
  name: string,
  factory: (limits?: StoreLimits) => Promise<BatchIdempotencyStore>,
  options: ContractOptions = {},
): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let n = 0;
    const key = (label: string) => `k${++n}:${label}`;
    if (options.cleanup) afterAll(options.cleanup);

    it("answers undefined for a key never stored", async () => {
      const store = await factory();
      expect(await store.get(key("missing"))).toBeUndefined();
    });

    it("round-trips arbitrary values: Dates, Buffers, BigInts, nesting, unicode", async () => {
      const store = await factory();
      const value = {
        at: new Date(1_700_000_000_123),
        bytes: Buffer.from([0, 1, 254, 255]),
        big: 12_345_678_901_234_567_890n,
        nested: { list: [1, "two", null, { three: 3.5 }], empty: {} },
        text: "žluťoučký 🐴",
        flag: false,
      };
      const k = key("rich");
      await store.set(k, { value }, 60_000);
      const stored = await store.get(k);
      expect(stored).toEqual({ value });
      expect((stored!.value as typeof value).at).toBeInstanceOf(Date);
      expect(Buffer.isBuffer((stored!.value as typeof value).bytes)).toBe(true);
      expect(typeof (stored!.value as typeof value).big).toBe("bigint");
    });

    it("round-trips cycles and shared references; refuses a cycle through a Map with CATGA_ENCODE", async () => {
      const store = await factory();
      type Node = { name: string; self?: Node; list?: unknown[] };
      const node: Node = { name: "n" };
      node.self = node;
      const list: unknown[] = [1];
      list.push(list);
      const shared = { z: 1 };
      const k = key("cycles");
      await store.set(
        k,
        { value: { node, nested: { node }, list, a: shared, b: shared, set: new Set([1]) } },
        60_000,
      );
      const got = (await store.get(k))!.value as {
        node: Node;
        nested: { node: Node };
        list: unknown[];
        a: object;
        b: object;
        set: Set<number>;
      };
      expect(got.node.self).toBe(got.node);
      expect(got.nested.node).toBe(got.node);
      expect(got.list[1]).toBe(got.list);
      expect(got.a).toBe(got.b);
      expect([...got.set]).toEqual([1]);
      // Stores that serialize: a cycle through a Map cannot be read back, so it is refused when
      // stored, not on every later read (the in-memory store keeps the object itself).
      if (!options.validates) return;
      const map = new Map<string, unknown>();
      map.set("me", map);
      const refused = key("map-cycle");
      await expect(store.set(refused, { value: { map } }, 60_000)).rejects.toMatchObject({
        code: ErrorCodes.ENCODE,
      });
      expect(await store.get(refused)).toBeUndefined();
    });

    it("round-trips a returned failure (err(...)) as a failure with its code, message and details", async () => {
      const store = await factory();
      const k = key("answered");
      await store.set(k, { value: err("ORDER_REFUSED", "out of stock", { sku: "book" }) }, 60_000);
      const stored = (await store.get(k))!.value as Result<unknown>;
      expect(stored.ok).toBe(false);
      if (!stored.ok)
        expect(stored.error).toEqual({
          code: "ORDER_REFUSED",
          message: "out of stock",
          details: { sku: "book" },
        });
      // A Result again (not a plain object that a replay would take for a success value).
      expect(() => stored.unwrap()).toThrow(CatgaError);
    });

    it("tells a stored undefined (or null) outcome apart from nothing stored", async () => {
      const store = await factory();
      const [u, z] = [key("undefined"), key("null")];
      await store.set(u, { value: undefined }, 60_000);
      await store.set(z, { value: null }, 60_000);
      const stored = await store.get(u);
      expect(stored).toBeDefined();
      expect(stored).toHaveProperty("value", undefined);
      expect(await store.get(z)).toEqual({ value: null });
      const many = await store.getMany([u, key("absent")]);
      expect(many[0]).toBeDefined();
      expect(many[0]!.value).toBeUndefined();
      expect(many[1]).toBeUndefined();
    });

    it("overwrites: the latest outcome and TTL win", async () => {
      const store = await factory();
      const k = key("overwrite");
      await store.set(k, { value: "first" }, 150);
      await store.set(k, { value: "second" }, 60_000);
      expect(await store.get(k)).toEqual({ value: "second" });
      await sleep(300);
      expect(await store.get(k)).toEqual({ value: "second" }); // the second TTL applies
    });

    it("expires entries after their TTL", async () => {
      const store = await factory();
      const [short, long] = [key("short"), key("long")];
      // 1 s: long enough to outlive the store round trips on a loaded machine, then wait for expiry.
      await store.set(short, { value: 1 }, 1000);
      await store.set(long, { value: 2 }, 60_000);
      expect(await store.get(short)).toEqual({ value: 1 });
      await eventually(
        async () => (await store.get(short)) === undefined,
        10_000,
        "the short entry to expire",
      );
      expect(await store.get(long)).toEqual({ value: 2 });
      expect(await store.getMany([short, long])).toEqual([undefined, { value: 2 }]);
    });

    it("keeps an entry with an infinite TTL", async () => {
      const store = await factory();
      const k = key("forever");
      await store.set(k, { value: "forever" }, Number.POSITIVE_INFINITY);
      await store.setMany([{ key: `${k}:b`, outcome: { value: "b" } }], Number.POSITIVE_INFINITY);
      expect(await store.getMany([k, `${k}:b`])).toEqual([{ value: "forever" }, { value: "b" }]);
    });

    it("getMany answers in key order, with undefined for misses and repeated keys answered each time", async () => {
      const store = await factory();
      const [a, b, c] = [key("a"), key("b"), key("c")];
      await store.set(a, { value: "A" }, 60_000);
      await store.set(c, { value: "C" }, 60_000);
      expect(await store.getMany([c, b, a, c])).toEqual([
        { value: "C" },
        undefined,
        { value: "A" },
        { value: "C" },
      ]);
      expect(await store.getMany([])).toEqual([]);
    });

    it("setMany stores every entry with one TTL; a repeated key keeps its last outcome", async () => {
      const store = await factory();
      const keys = Array.from({ length: 300 }, (_, i) => key(`many${i}`));
      await store.setMany(
        keys.map((k, i) => ({ key: k, outcome: { value: { i, at: new Date(i) } } })),
        60_000,
      );
      const got = await store.getMany(keys);
      expect(got.map((o) => (o?.value as { i: number } | undefined)?.i)).toEqual(keys.map((_, i) => i));
      expect((got[7]!.value as { at: Date }).at).toEqual(new Date(7));

      const dup = key("dup");
      await store.setMany(
        [
          { key: dup, outcome: { value: "old" } },
          { key: dup, outcome: { value: "new" } },
        ],
        60_000,
      );
      expect(await store.get(dup)).toEqual({ value: "new" });
      await store.setMany([], 60_000);

      const brief = [key("brief1"), key("brief2")];
      await store.setMany(
        brief.map((k) => ({ key: k, outcome: { value: k } })),
        1000,
      );
      expect((await store.getMany(brief)).every((o) => o !== undefined)).toBe(true);
      await eventually(
        async () => (await store.getMany(brief)).every((o) => o === undefined),
        10_000,
        "the brief entries to expire",
      );
    });

    it("deduplicates a mediator command through withIdempotency", async () => {
      const store = await factory();
      let runs = 0;
      const Pay = defineCommand("contract.pay")
        .payload<{ amount: number }>()
        .returns<{ receipt: string; at: Date }>();
      const catga = createCatga()
        .withIdempotency({ store, ttlMs: 60_000 })
        .handle(Pay, ({ amount }) => ({ receipt: `r-${amount}-${++runs}`, at: new Date(5) }))
        .build();
      const messageId = `m-${key("pay")}`;
      const first = (await catga.send(Pay, { amount: 5 }, { messageId })).unwrap();
      const second = (await catga.send(Pay, { amount: 5 }, { messageId })).unwrap();
      expect(runs).toBe(1);
      expect(second).toEqual(first);
      expect(second.at).toBeInstanceOf(Date);
      // The longest id the mediator takes (1024 characters, here 3 UTF-8 bytes each) deduplicates
      // too: its key is hashed to fit (found from outside: CATGA_STORE_FAILED, handler never run).
      const longId = `${key("long")}-${"é".repeat(1024)}`.slice(0, 1024);
      const third = (await catga.send(Pay, { amount: 6 }, { messageId: longId })).unwrap();
      const fourth = (await catga.send(Pay, { amount: 6 }, { messageId: longId })).unwrap();
      expect(runs).toBe(2);
      expect(fourth).toEqual(third);
    });

    if (options.validates) {
      it("rejects bad keys, TTLs and oversized outcomes with coded errors", async () => {
        const store = await factory({ maxKeyBytes: 64, maxValueBytes: 256 });
        await expectCode(store.get(""), "CATGA_INVALID_ARGUMENT");
        await expectCode(store.get(42 as unknown as string), "CATGA_INVALID_ARGUMENT");
        await expectCode(store.get("é".repeat(40)), "CATGA_LIMIT"); // 80 bytes
        for (const ttl of [0, -1, Number.NaN, 1e300, "10" as unknown as number]) {
          await expectCode(store.set(key("ttl"), { value: 1 }, ttl), "CATGA_INVALID_ARGUMENT");
          await expectCode(
            store.setMany([{ key: key("ttl"), outcome: { value: 1 } }], ttl),
            "CATGA_INVALID_ARGUMENT",
          );
        }
        await expectCode(store.set(key("big"), { value: "x".repeat(300) }, 1000), "CATGA_LIMIT");
        const okKey = key("ok");
        await expectCode(
          store.setMany(
            [
              { key: okKey, outcome: { value: 1 } },
              { key: key("big"), outcome: { value: "x".repeat(300) } },
            ],
            1000,
          ),
          "CATGA_LIMIT",
        );
        await expectCode(
          store.set(key("shape"), "nope" as unknown as StoredOutcome, 1000),
          "CATGA_INVALID_ARGUMENT",
        );
        await expectCode(store.getMany(["ok", ""]), "CATGA_INVALID_ARGUMENT");
        // Nothing of a rejected batch was written.
        expect(await store.getMany([okKey])).toEqual([undefined]);
        // A value just under the limit still fits.
        const fits = key("fits");
        await store.set(fits, { value: "x".repeat(200) }, 1000);
        expect(await store.get(fits)).toEqual({ value: "x".repeat(200) });
      });
    }

    describe("claims", () => {
      const claiming = async (limits?: StoreLimits) => {
        const store = (await factory(limits)) as BatchIdempotencyStore & Partial<IdempotencyClaims>;
        expect(typeof store.claim, "every shipped store has claims").toBe("function");
        return store as BatchIdempotencyStore & IdempotencyClaims;
      };

      it("claims a free key for one owner; another owner finds it held, the same owner claims again", async () => {
        const store = await claiming();
        const k = key("claim");
        expect(await store.claim(k, "a", 60_000)).toEqual({ status: "claimed" });
        expect(await store.claim(k, "b", 60_000)).toEqual({ status: "held" });
        expect(await store.claim(k, "a", 60_000)).toEqual({ status: "claimed" });
        // A claim is not an outcome.
        expect(await store.get(k)).toBeUndefined();
        expect(await store.getMany([k])).toEqual([undefined]);
      });

      it("of 20 owners claiming one key at once, exactly one gets it", async () => {
        const store = await claiming();
        const k = key("race");
        const answers = await Promise.all(
          Array.from({ length: 20 }, async (_, i) => (await store.claim(k, `owner-${i}`, 60_000)).status),
        );
        expect(answers.filter((a) => a === "claimed")).toHaveLength(1);
        expect(answers.filter((a) => a === "held")).toHaveLength(19);
      });

      it("set completes a claim: claims then answer done with the outcome", async () => {
        const store = await claiming();
        const k = key("done");
        expect((await store.claim(k, "a", 60_000)).status).toBe("claimed");
        await store.set(k, { value: { total: 5, at: new Date(9) } }, 60_000);
        for (const owner of ["a", "b"]) {
          expect(await store.claim(k, owner, 60_000)).toEqual({
            status: "done",
            outcome: { value: { total: 5, at: new Date(9) } },
          });
        }
        expect(await store.extend(k, "a", 60_000)).toBe(false);
        await store.release(k, "a"); // no claim left: releasing changes nothing
        expect(await store.get(k)).toEqual({ value: { total: 5, at: new Date(9) } });
        // A stored undefined is an outcome too.
        const u = key("done-undefined");
        await store.set(u, { value: undefined }, 60_000);
        const answer = await store.claim(u, "a", 60_000);
        expect(answer.status).toBe("done");
        expect(answer.status === "done" && answer.outcome).toHaveProperty("value", undefined);
      });

      it("only the owner extends or releases; a released key is free at once", async () => {
        const store = await claiming();
        const k = key("release");
        expect((await store.claim(k, "a", 60_000)).status).toBe("claimed");
        expect(await store.extend(k, "b", 60_000)).toBe(false);
        await store.release(k, "b");
        expect((await store.claim(k, "b", 60_000)).status).toBe("held");
        expect(await store.extend(k, "a", 60_000)).toBe(true);
        await store.release(k, "a");
        expect(await store.extend(k, "a", 60_000)).toBe(false);
        expect((await store.claim(k, "b", 60_000)).status).toBe("claimed");
        expect(await store.extend(k, "missing", 60_000)).toBe(false);
        expect(await store.extend(key("never"), "a", 60_000)).toBe(false);
      });

      it("an expired lease can be taken over; an extended one cannot", async () => {
        const store = await claiming();
        const [lapsing, kept] = [key("lapse"), key("kept")];
        expect((await store.claim(lapsing, "a", 400)).status).toBe("claimed");
        expect((await store.claim(kept, "a", 400)).status).toBe("claimed");
        expect(await store.extend(kept, "a", 60_000)).toBe(true);
        await eventually(async () => (await store.claim(lapsing, "b", 60_000)).status === "claimed", 5_000);
        expect(await store.claim(kept, "b", 60_000)).toEqual({ status: "held" });
        // The first owner lost it: it can neither extend nor release b's claim.
        expect(await store.extend(lapsing, "a", 60_000)).toBe(false);
        await store.release(lapsing, "a");
        expect(await store.claim(lapsing, "c", 60_000)).toEqual({ status: "held" });
      });

      it("an expired outcome is claimable again", async () => {
        const store = await claiming();
        const k = key("stale");
        await store.set(k, { value: 1 }, 200);
        await eventually(async () => (await store.claim(k, "a", 60_000)).status === "claimed", 5_000);
        expect(await store.get(k)).toBeUndefined();
      });

      if (options.validates) {
        it("rejects bad owners and leases with CATGA_INVALID_ARGUMENT", async () => {
          const store = await claiming({ maxKeyBytes: 64 });
          for (const lease of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "5" as unknown as number]) {
            await expectCode(Promise.resolve(store.claim(key("bad"), "a", lease)), "CATGA_INVALID_ARGUMENT");
            await expectCode(Promise.resolve(store.extend(key("bad"), "a", lease)), "CATGA_INVALID_ARGUMENT");
          }
          for (const owner of ["", "x".repeat(257), 7 as unknown as string]) {
            await expectCode(Promise.resolve(store.claim(key("bad"), owner, 1000)), "CATGA_INVALID_ARGUMENT");
            await expectCode(Promise.resolve(store.release(key("bad"), owner)), "CATGA_INVALID_ARGUMENT");
          }
          await expectCode(Promise.resolve(store.claim("", "a", 1000)), "CATGA_INVALID_ARGUMENT");
          await expectCode(Promise.resolve(store.claim("é".repeat(40), "a", 1000)), "CATGA_LIMIT");
        });
      }
    });

    const down = options.down;
    if (down !== undefined) {
      it("rejects every operation with CATGA_STORE_FAILED naming it when the server is down", async () => {
        const store = await down();
        const checks: [string, () => Promise<unknown>][] = [
          ["get", () => store.get("a")],
          ["set", () => store.set("a", { value: 1 }, 1000)],
          ["getMany", () => store.getMany(["a", "b"])],
          ["setMany", () => store.setMany([{ key: "a", outcome: { value: 1 } }], 1000)],
        ];
        const claims = store as Partial<IdempotencyClaims>;
        if (claims.claim !== undefined && claims.extend !== undefined && claims.release !== undefined) {
          const { claim, extend, release } = claims as IdempotencyClaims;
          checks.push(
            ["claim", () => Promise.resolve(claim.call(store, "a", "o", 1000))],
            ["extend", () => Promise.resolve(extend.call(store, "a", "o", 1000))],
            ["release", () => Promise.resolve(release.call(store, "a", "o"))],
          );
        }
        for (const [operation, run] of checks) {
          const error = await expectCode(run(), "CATGA_STORE_FAILED", `${operation} failed`);
          expect(error.details).toMatchObject({ operation });
          expect(error.cause).toBeDefined();
        }
        // Through the behavior: the Result's details name the store and the operation, as
        // ErrorDetailsByCode types them (they were undefined, found from outside).
        const Pay = defineCommand("contract.down").payload<{ n: number }>();
        const catga = createCatga({ logger: silentLogger })
          .withIdempotency({ store })
          .handle(Pay, () => undefined)
          .build();
        const failed = await catga.send(Pay, { n: 1 }, { messageId: "down-1" });
        expect(failed.ok ? undefined : failed.error).toMatchObject({
          code: "CATGA_STORE_FAILED",
          details: { store: expect.any(String), operation: claims.claim === undefined ? "read" : "claim" },
        });
      });
    }
  });
}
