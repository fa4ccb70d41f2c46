import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, defineEvent, err, silentLogger } from "../../ts/index.js";
import { NATS_URL, uniquePrefix, until } from "../nats/helpers.js";

// docs/architecture/wire.md promises that a program in another language can join the bus from the spec alone.
// interop/python/catga_peer.py is such a program (nats-py, msgpack and zstandard from PyPI, in a
// virtualenv this test makes once under node_modules/.cache): it reads the events the library
// publishes, publishes events library handlers receive, and sends commands they answer.

const root = join(import.meta.dirname, "..", "..");
const venv = join(root, "node_modules", ".cache", "catga-python-interop");
const python = join(venv, "bin", "python");
const peer = join(root, "interop", "python", "catga_peer.py");

function ensureVirtualenv(): void {
  if (existsSync(python)) {
    const check = ["-c", "import msgpack, nats, zstandard"];
    try {
      execFileSync(python, check, { stdio: "ignore" });
      return;
    } catch {
      // A half-made virtualenv: install into it again.
    }
  } else {
    execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
  }
  const requirements = join(root, "interop", "python", "requirements.txt");
  execFileSync(python, ["-m", "pip", "install", "--quiet", "-r", requirements], { stdio: "inherit" });
}

/** Runs the peer to completion (asynchronously: the handlers it talks to run on this thread). */
function runPeer(prefix: string, ...args: string[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NATS_URL, CATGA_PREFIX: prefix };
    execFile(python, [peer, ...args], { env, encoding: "utf8", timeout: 30_000 }, (error, out, errors) => {
      if (error) reject(new Error(`${error.message}\n${errors}`));
      else
        resolve(
          out
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line)),
        );
    });
  });
}

/** Starts the peer's listener; resolves once its subscription is live, with the lines to come. */
async function startListener(prefix: string, subject: string, count: number) {
  const child: ChildProcess = spawn(python, [peer, "listen", subject, "python-peer", String(count)], {
    env: { ...process.env, NATS_URL, CATGA_PREFIX: prefix },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: Record<string, unknown>[] = [];
  let ready = false;
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const parsed = JSON.parse(line);
    if (parsed === "READY") ready = true;
    else lines.push(parsed);
  });
  await until(() => ready, 20_000, "python listener ready");
  return { lines, exited };
}

const Shipped = defineEvent("interop.shipped").payload<{ orderId: string; note: string }>();
const Noted = defineEvent("interop.noted").payload<{ text: string; index?: number }>();
const Charge = defineCommand("interop.charge")
  .payload<{ orderId: string; cents: number }>()
  .returns<{ receipt: string; cents: number }>();

beforeAll(() => ensureVirtualenv(), 240_000);

describe("a Python peer written from docs/architecture/wire.md", () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
  });

  it("reads the events the library publishes: frames, zstd-compressed frames and their ids", async () => {
    const prefix = uniquePrefix("py");
    const listener = await startListener(prefix, `${prefix}.evt.interop.shipped`, 40);
    const transport = await natsTransport({ servers: NATS_URL, service: "shipping", prefix });
    const catga = createCatga({ logger: silentLogger, transport }).build();
    closers.push(() => catga.close());
    // 40 events with 2 KB notes in one tick: framed together, and big enough to be compressed.
    const published = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        catga.publish(Shipped, { orderId: `o-${i}`, note: `note ${i} `.repeat(200) }),
      ),
    );
    expect(published.every((r) => r.ok)).toBe(true);
    expect(await listener.exited).toBe(0);
    expect(listener.lines).toHaveLength(40);
    expect(new Set(listener.lines.map((l) => (l.payload as { orderId: string }).orderId)).size).toBe(40);
    for (const line of listener.lines) {
      expect(line).toMatchObject({ kind: "event", type: "interop.shipped" });
      expect(line.messageId).toMatch(/^[0-9a-f-]{36}$/);
      expect(line.correlationId).toBe(line.messageId); // a root message: nil on the wire
    }
    expect(listener.lines.some((l) => l.compressed === true)).toBe(true);
  });

  it("publishes events library handlers receive: a single envelope, a frame and a zstd frame", async () => {
    const prefix = uniquePrefix("py");
    const received: { text: string; index?: number }[] = [];
    const transport = await natsTransport({ servers: NATS_URL, service: "notes", prefix });
    const catga = createCatga({ logger: silentLogger, transport })
      .handle(Noted, (payload) => {
        received.push(payload);
      })
      .build();
    closers.push(() => catga.close());
    await transport.ready();
    await runPeer(prefix, "publish", "interop.noted", JSON.stringify({ text: "single" }), "single");
    await runPeer(prefix, "publish", "interop.noted", JSON.stringify({ text: "framed" }), "frame");
    await runPeer(
      prefix,
      "publish",
      "interop.noted",
      JSON.stringify({ text: "squeezed".repeat(300) }),
      "zstd-frame",
    );
    await until(() => received.length === 7, 10_000, "7 events from python");
    expect(received.filter((e) => e.text === "single")).toEqual([{ text: "single" }]);
    expect(received.filter((e) => e.text === "framed").map((e) => e.index)).toEqual([0, 1, 2]);
    expect(received.filter((e) => e.text.startsWith("squeezed")).map((e) => e.index)).toEqual([0, 1, 2]);
  });

  it("sends commands a library handler answers, and gets coded errors back", async () => {
    const prefix = uniquePrefix("py");
    const transport = await natsTransport({ servers: NATS_URL, service: "billing", prefix });
    const catga = createCatga({ logger: silentLogger, transport })
      .handle(Charge, ({ orderId, cents }, ctx) => {
        // Returned, not thrown: a domain failure as a value travels the same way.
        if (cents <= 0) return err("BILLING_REJECTED", `cents must be positive for ${orderId}`);
        return { receipt: `r-${orderId}-${ctx.headers.origin}`, cents };
      })
      .build();
    closers.push(() => catga.close());
    await transport.ready();
    const [ok] = (await runPeer(
      prefix,
      "request",
      "interop.charge",
      JSON.stringify({ orderId: "o-1", cents: 250 }),
    )) as {
      kind: string;
      causationId: string;
      sentMessageId: string;
      result: unknown;
    }[];
    expect(ok?.kind).toBe("reply");
    expect(ok?.causationId).toBe(ok?.sentMessageId);
    expect(ok?.result).toEqual({ ok: true, value: { receipt: "r-o-1-python", cents: 250 } });
    const [failed] = (await runPeer(
      prefix,
      "request",
      "interop.charge",
      JSON.stringify({ orderId: "o-2", cents: 0 }),
    )) as {
      kind: string;
      result: { ok: boolean; error: { code: string; message: string } };
    }[];
    expect(failed?.kind).toBe("error");
    expect(failed?.result).toMatchObject({ ok: false, error: { code: "BILLING_REJECTED" } });
    expect(failed?.result.error.message).toContain("o-2");
  });
});
