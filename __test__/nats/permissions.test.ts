import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection, natsTransport } from "../../ts/entries/nats.js";
import { type CatgaError, createCatga, defineCommand, defineEvent, silentLogger } from "../../ts/index.js";
import { PrivateNats, until } from "./helpers.js";

// A server whose users hold only the permissions their role needs (docs/architecture/transport.md, "Permissions"):
// nothing Catga does on its own (ready(), flush()) may need more.
const dir = mkdtempSync(join(tmpdir(), "catga-perm-"));
let server: PrivateNats;

beforeAll(async () => {
  const config = join(dir, "server.conf");
  writeFileSync(
    config,
    `authorization {
  users = [
    # A service handling perm.cmd.orders.* and publishing perm.evt.*: it subscribes to its
    # commands, replies through allow_responses, and publishes its events.
    { user: orders, password: pw, permissions: {
        publish: { allow: ["perm.evt.>"] },
        subscribe: { allow: ["perm.cmd.orders.>"] },
        allow_responses: true } }
    # A client sending perm.cmd.orders.*: it publishes requests and receives replies in its inbox.
    { user: client, password: pw, permissions: {
        publish: { allow: ["perm.cmd.orders.>"] },
        subscribe: { allow: ["_INBOX.>"] } } }
    # An event subscriber: it only subscribes to the events it handles.
    { user: audit, password: pw, permissions: { publish: { deny: [">"] }, subscribe: { allow: ["perm.evt.>"] } } }
    # A JetStream producer: publishes to its stream's subjects, acks come to its inbox.
    { user: producer, password: pw, permissions: {
        publish: { allow: ["perm.dur.ok.>"] },
        subscribe: { allow: ["_INBOX.>"] } } }
    # Anything but secrets: the flush probe is answered by "no responders", not by a refusal.
    { user: denylist, password: pw, permissions: { publish: { deny: ["perm.secret.>"] } } }
    # Sets up streams for the tests.
    { user: admin, password: pw }
  ]
}
`,
  );
  server = await PrivateNats.start(["-c", config]);
});

afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const Place = defineCommand("orders.place").payload<{ sku: string }>().returns<{ id: string }>();
const Placed = defineEvent("orders.placed").payload<{ id: string }>();

function transport(user: string, service: string) {
  return natsTransport({
    servers: server.url,
    user,
    pass: "pw",
    service,
    prefix: "perm",
    requestTimeoutMs: 3000,
  });
}

describe("least-privilege NATS users", () => {
  it("ready() resolves and messages flow with exactly each role's permissions", async () => {
    const seen: string[] = [];
    const ordersTransport = await transport("orders", "orders");
    const orders = createCatga({ logger: silentLogger, transport: ordersTransport })
      .handle(Place, async ({ sku }, ctx) => {
        const id = `o-${sku}`;
        (await ctx.publish(Placed, { id })).unwrap();
        return { id };
      })
      .build();
    const auditTransport = await transport("audit", "audit");
    const audit = createCatga({ logger: silentLogger, transport: auditTransport })
      .handle(Placed, ({ id }) => {
        seen.push(id);
      })
      .build();
    const clientTransport = await transport("client", "web");
    const client = createCatga({ logger: silentLogger, transport: clientTransport }).remote(Place).build();

    // Each of these needs a server round trip; none may need a permission the role lacks.
    await ordersTransport.ready();
    await auditTransport.ready();
    await clientTransport.ready();

    expect((await client.send(Place, { sku: "book" })).unwrap()).toEqual({ id: "o-book" });
    await until(() => seen.includes("o-book"), 5000, "the event reaches the subscriber");
    await Promise.all([client.close(), orders.close(), audit.close()]);
  });

  it("ready() fails with CATGA_PERMISSION_DENIED naming a subscription the server refused", async () => {
    const Refunded = defineEvent("billing.refunded").payload<{ id: string }>();
    // The audit user may subscribe to perm.evt.> only; a command handler needs perm.cmd.audit.*.
    const Purge = defineCommand("audit.purge");
    const auditTransport = await transport("audit", "audit");
    const audit = createCatga({ logger: silentLogger, transport: auditTransport })
      .handle(Refunded, () => undefined)
      .handle(Purge, () => undefined)
      .build();
    const error = await auditTransport.ready().then(
      () => undefined,
      (e: unknown) => e as CatgaError,
    );
    expect(error).toBeDefined();
    expect(error!.code).toBe("CATGA_PERMISSION_DENIED");
    expect((error!.details as { subjects: string[] }).subjects).toEqual(["perm.cmd.audit.purge"]);
    await audit.close();
  });
});

/** The error a promise rejects with (undefined when it resolves). */
function failureOf(promise: Promise<unknown>): Promise<CatgaError | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => e as CatgaError,
  );
}

function connect(user: string): Promise<NatsConnection> {
  return NatsConnection.connect({ servers: server.url, user, pass: "pw", requestTimeoutMs: 5000 });
}

describe("work the server refuses fails the call that caused it", () => {
  it("a request to a subject the user may not publish to fails at once, naming the subject", async () => {
    const Refund = defineCommand("billing.refund").payload<{ id: string }>().returns<void>();
    const clientTransport = await transport("client", "web");
    const client = createCatga({ logger: silentLogger, transport: clientTransport }).remote(Refund).build();
    await clientTransport.ready();
    const started = Date.now();
    // One alone (a plain request) and a burst (one framed group): all fail, none waits its 3 s timeout.
    const alone = await client.send(Refund, { id: "r0" });
    const burst = await Promise.all([1, 2, 3, 4].map((i) => client.send(Refund, { id: `r${i}` })));
    expect(Date.now() - started).toBeLessThan(2000);
    for (const result of [alone, ...burst]) {
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.error.code).toBe("CATGA_PERMISSION_DENIED");
      expect(result.error.details).toEqual({ subject: "perm.cmd.billing.refund" });
    }
    await client.close();
  });

  it("requests on a refused subject fail without holding up allowed ones on the same connection", async () => {
    const connection = await connect("client");
    const denied = failureOf(connection.request("perm.cmd.billing.x", Buffer.from("a")));
    // Allowed but unanswered: it must still end as a timeout, not as the other subject's refusal.
    const allowed = failureOf(connection.request("perm.cmd.orders.nobody", Buffer.from("b"), 300));
    expect((await denied)?.code).toBe("CATGA_PERMISSION_DENIED");
    expect((await allowed)?.code).toBe("CATGA_NO_HANDLER");
    // Remembered: the next one fails without a round trip.
    const again = await failureOf(connection.request("perm.cmd.billing.x", Buffer.from("c")));
    expect(again?.code).toBe("CATGA_PERMISSION_DENIED");
    await connection.close();
  });

  it("an event publish the user may not make rejects, naming the subject; later ones at once", async () => {
    const connection = await connect("orders");
    // Same tick, same batch: only the refused subject's publishes fail.
    const outcomes = await Promise.allSettled([
      connection.publish("perm.evt.ok", Buffer.from("a")),
      connection.publish("perm.forbidden", Buffer.from("b")),
      connection.publish("perm.evt.ok", Buffer.from("c")),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const error = (outcomes[1] as PromiseRejectedResult).reason as CatgaError;
    expect(error.code).toBe("CATGA_PERMISSION_DENIED");
    expect(error.details).toEqual({ subject: "perm.forbidden" });
    // Remembered until reconnect: the next publish to it is not even sent.
    const framesBefore = connection.stats().framesSent;
    expect((await failureOf(connection.publish("perm.forbidden", Buffer.from("d"))))?.code).toBe(
      "CATGA_PERMISSION_DENIED",
    );
    expect(connection.stats().framesSent).toBe(framesBefore);
    // A subject that passed is not checked again, and still works.
    await connection.publish("perm.evt.ok", Buffer.from("e"));
    await connection.close();
  });

  it("a refusal is seen when the round trip itself is allowed (a deny list)", async () => {
    const connection = await connect("denylist");
    for (let i = 0; i < 20; i++) {
      const subject = `perm.secret.s${i}`;
      const [allowed, refused] = await Promise.allSettled([
        connection.publish(`perm.open.s${i}`, Buffer.from("a")),
        connection.publish(subject, Buffer.from("b")),
      ]);
      expect(allowed.status).toBe("fulfilled");
      expect(((refused as PromiseRejectedResult).reason as CatgaError).details).toEqual({ subject });
    }
    await connection.close();
  });

  it("a mediator publish of an event the user may not publish fails CATGA_PUBLISH_FAILED with the refusal", async () => {
    const Placed2 = defineEvent("orders.placed2").payload<{ id: string }>();
    const clientTransport = await transport("client", "web");
    const client = createCatga({ logger: silentLogger, transport: clientTransport }).build();
    await clientTransport.ready();
    const result = await client.publish(Placed2, { id: "x" });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe("CATGA_PUBLISH_FAILED");
      const [failure] = (result.error.details as { failures: { code: string; details?: unknown }[] })
        .failures;
      expect(failure?.code).toBe("CATGA_PERMISSION_DENIED");
      expect(failure?.details).toEqual({ subject: "perm.evt.orders.placed2" });
    }
    await client.close();
  });

  it("a durable publish to a stream subject the user may not publish to fails at once, naming it", async () => {
    const admin = await connect("admin");
    await new JetStream(admin).ensureStream({ name: "PERM_DUR", subjects: ["perm.dur.>"] });
    const connection = await connect("producer");
    const js = new JetStream(connection);
    const started = Date.now();
    const [ok, denied] = await Promise.allSettled([
      js.publishOne("perm.dur.ok.a", "m-1", Buffer.from("a")),
      js.publishOne("perm.dur.no.a", "m-2", Buffer.from("b")),
    ]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(ok.status).toBe("fulfilled");
    const error = (denied as PromiseRejectedResult).reason as CatgaError;
    expect(error.code).toBe("CATGA_PERMISSION_DENIED");
    expect(error.details).toEqual({ subject: "perm.dur.no.a" });
    await Promise.all([connection.close(), admin.close()]);
  });
});
