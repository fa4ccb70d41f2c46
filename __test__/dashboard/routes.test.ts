// The dashboard's routes over real NATS and PostgreSQL, mounted on Fastify (inject) and on a
// node:http server (fetch): access by the auth hook, HTML and JSON views, escaping of untrusted
// payloads, and the CSRF checks in front of replay and purge.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DashboardAccess, operationsDashboard } from "../../ts/entries/dashboard.js";
import { PostgresSagaStore } from "../../ts/entries/persistence.js";
import {
  CatgaConfigError,
  createCatga,
  defineCommand,
  defineSaga,
  ErrorCodes,
  sagaOperations,
  silentLogger,
} from "../../ts/index.js";
import { TestCluster } from "../cluster/helpers.js";
import { until } from "../nats/helpers.js";
import { cookieOf, deadLetterSome, formToken, TRACEPARENT, type World, world } from "./helpers.js";

const XSS = `<script>alert("owned")</script>`;

/** Access by the `x-role` header: the tests' stand-in for a session. */
function byRole(request: IncomingMessage): DashboardAccess {
  const role = request.headers["x-role"];
  if (role === "operator") return "operate";
  if (role === "reader") return "read";
  if (role === "basic") return { status: 401, headers: { "www-authenticate": 'Basic realm="ops"' } };
  return false;
}

let w: World;
let app: FastifyInstance;

beforeAll(async () => {
  w = await world("dash");
  await deadLetterSome(w, [{ orderId: "o-1" }, { orderId: "o-2", note: XSS }], ["o-3"]);
  app = Fastify();
  const dashboard = operationsDashboard({ deadLetters: w.dlq, pool: w.pool, schema: w.schema, auth: byRole });
  await app.register(dashboard.fastify, { prefix: "/ops" });
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await w?.close();
});

describe("operationsDashboard options", () => {
  it("refuses to start without an auth hook, naming the field", () => {
    let error: unknown;
    try {
      operationsDashboard({ deadLetters: w.dlq } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).code).toBe(ErrorCodes.CONFIG);
    expect((error as CatgaConfigError).issues.map((i) => i.path)).toEqual(["auth"]);
  });

  it("lists every bad option at once, unknown keys included", () => {
    let error: unknown;
    try {
      operationsDashboard({ deadLetters: {}, auth: "yes", pageSize: 0, colour: "red" } as never);
    } catch (e) {
      error = e;
    }
    expect((error as CatgaConfigError).issues.map((i) => i.path).sort()).toEqual([
      "auth",
      "colour",
      "deadLetters",
      "pageSize",
    ]);
  });
});

describe("the dashboard on Fastify", () => {
  const get = (url: string, role = "operator", headers: Record<string, string> = {}) =>
    app.inject({ method: "GET", url, headers: { "x-role": role, ...headers } });

  it("answers nothing but the auth hook's refusal to a caller it refuses", async () => {
    expect((await get("/ops/", "nobody")).statusCode).toBe(403);
    const basic = await get("/ops/api/counts", "basic");
    expect(basic.statusCode).toBe(401);
    expect(basic.headers["www-authenticate"]).toBe('Basic realm="ops"');
    expect(basic.body).not.toContain("orders.placed");
  });

  it("serves the overview with a strict CSP and sets the anti-CSRF cookie", async () => {
    const res = await get("/ops/");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(String(res.headers["set-cookie"])).toMatch(
      /^catga-dashboard-csrf=[^;]+; Path=\/ops; HttpOnly; SameSite=Strict/,
    );
    expect(res.body).toContain('id="dead-letter-total"');
    expect(res.body).toContain("orders.placed");
    expect(res.body).toContain('id="outbox-pending"');
    expect(res.body).toContain("checkout");
    // The script and stylesheet come from the dashboard itself.
    expect(res.body).toContain('<script src="/ops/assets/dashboard.js" defer></script>');
    expect((await get("/ops/assets/dashboard.js")).headers["content-type"]).toContain("text/javascript");
  });

  it("lists dead letters as JSON and HTML, by kind, type and code", async () => {
    const events = (await get("/ops/api/dead-letters?kind=event")).json() as {
      items: { id: string; type: string }[];
    };
    expect(events.items.map((i) => i.type)).toEqual(["orders.placed", "orders.placed"]);
    const commands = (await get("/ops/api/dead-letters?code=BILLING_REFUSED")).json() as {
      items: { kind: string; type: string }[];
    };
    expect(commands.items).toMatchObject([{ kind: "command", type: "billing.charge" }]);
    const page = await get("/ops/dead-letters?type=billing.charge");
    expect(page.statusCode).toBe(200);
    expect(page.body.match(/<tr data-id=/g)).toHaveLength(1);
    expect(page.body).toContain("BILLING_REFUSED");
    expect((await get("/ops/api/dead-letters?kind=neither")).statusCode).toBe(400);
  });

  it("shows one dead letter with payload, headers and trace id, escaping what it carries", async () => {
    const { items } = (await get("/ops/api/dead-letters?kind=event")).json() as { items: { id: string }[] };
    const hostile = items[1]!.id;
    const page = await get(`/ops/dead-letters/${hostile}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("0af7651916cd43dd8448eb211c80319c");
    expect(page.body).toContain(TRACEPARENT);
    expect(page.body).toContain("msg-o-2");
    expect(page.body).toContain("card service down");
    expect(page.body).not.toContain(XSS);
    expect(page.body).toContain("&lt;script&gt;alert(\\&quot;owned\\&quot;)&lt;/script&gt;");
    const api = (await get(`/ops/api/dead-letters/${hostile}`)).json() as { body: unknown; payload: string };
    expect(api.body).toEqual({ orderId: "o-2", note: XSS });
    expect(typeof api.payload).toBe("string");
    expect((await get("/ops/dead-letters/event:999999")).statusCode).toBe(404);
    expect((await get("/ops/dead-letters/nonsense")).statusCode).toBe(400);
  });

  it("shows the outbox, the inbox and saga instances", async () => {
    const outbox = (await get("/ops/api/outbox")).json() as {
      pending: number;
      rows: { messageId: string }[];
    };
    expect(outbox.pending).toBe(1);
    expect(outbox.rows[0]?.messageId).toBe("ship-7");
    expect((await get("/ops/outbox")).body).toContain("ship-7");
    const inbox = (await get("/ops/api/inbox")).json() as { outcomes: number; claims: number };
    expect(inbox).toMatchObject({ outcomes: 1, claims: 1 });
    expect((await get("/ops/inbox?keyPrefix=orders%3Arunning")).body).toContain("worker-a");
    const sagas = await get("/ops/sagas?saga=checkout&status=failed");
    expect(sagas.body).toContain("PAYMENT_DECLINED");
    expect(sagas.body).toContain("&lt;b&gt;not bold&lt;/b&gt;");
    // A bad filter is the caller's mistake (400 CATGA_INVALID_ARGUMENT), not the store's (502).
    const badStatus = await get("/ops/api/sagas?saga=checkout&status=bogus");
    expect(badStatus.statusCode).toBe(400);
    expect(badStatus.json()).toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
    const nul = await get("/ops/api/inbox?keyPrefix=%00");
    expect(nul.statusCode).toBe(400);
    expect(nul.json()).toMatchObject({ code: "CATGA_INVALID_ARGUMENT" });
  });

  it("refuses a replay without the token, from another origin, or for a reader; then replays with both", async () => {
    const list = await get("/ops/dead-letters?kind=event");
    const token = formToken(list.body);
    const cookie = cookieOf(list.headers["set-cookie"]);
    const { items } = (await get("/ops/api/dead-letters?kind=event")).json() as { items: { id: string }[] };
    const id = items[0]!.id;
    const post = (form: Record<string, string>, headers: Record<string, string> = {}, role = "operator") =>
      app.inject({
        method: "POST",
        url: "/ops/dead-letters/replay",
        headers: {
          "x-role": role,
          "content-type": "application/x-www-form-urlencoded",
          host: "localhost:80",
          origin: "http://localhost:80",
          cookie,
          ...headers,
        },
        payload: new URLSearchParams(form).toString(),
      });

    expect((await post({ scope: "selected", id })).statusCode).toBe(403); // no token in the form
    expect((await post({ scope: "selected", id, csrf: token }, { cookie: "" })).statusCode).toBe(403); // no cookie
    expect(
      (await post({ scope: "selected", id, csrf: token }, { origin: "https://evil.example" })).statusCode,
    ).toBe(403);
    expect((await post({ scope: "selected", id, csrf: `${token}x` })).statusCode).toBe(403);
    expect((await post({ scope: "selected", id, csrf: token }, {}, "reader")).statusCode).toBe(403);
    // A reader's pages carry no forms at all.
    expect((await get("/ops/dead-letters", "reader")).body).not.toContain('method="post"');
    expect((await w.dlq.get(id)) === undefined).toBe(false);

    w.failing = false;
    const done = await post({ scope: "selected", id, csrf: token });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain("Replayed 1 dead letter.");
    await until(() => w.handled.some((h) => h.messageId === "msg-o-1"), 15_000, "the replayed event handled");
    expect(await w.dlq.get(id)).toBeUndefined();
  }, 30_000);
});

describe("what the dashboard refuses to do", () => {
  it("reflects a hostile filter only escaped", async () => {
    const hostile = `"><script>alert(1)</script>`;
    const res = await app.inject({
      method: "GET",
      url: `/ops/dead-letters?code=${encodeURIComponent(hostile)}`,
      headers: { "x-role": "operator" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(hostile);
    expect(res.body).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it("serves anonymous-read-only without forms and refuses its POSTs", async () => {
    const readOnly = Fastify();
    await readOnly.register(
      operationsDashboard({ deadLetters: w.dlq, auth: "anonymous-read-only" }).fastify,
      {
        prefix: "/ops",
      },
    );
    const list = await readOnly.inject({ method: "GET", url: "/ops/dead-letters" });
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain("read-only");
    expect(list.body).not.toContain('method="post"');
    const post = await readOnly.inject({
      method: "POST",
      url: "/ops/dead-letters/purge",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "scope=all",
    });
    expect(post.statusCode).toBe(403);
    expect((await w.dlq.counts()).total).toBeGreaterThan(0);
    await readOnly.close();
  });

  it("keeps its own form parser beside an app's, which stays as it was", async () => {
    const host = Fastify();
    host.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_r, body, done) =>
      done(null, { parsedByTheApp: String(body) }),
    );
    host.post("/form", async (request) => request.body);
    await host.register(operationsDashboard({ deadLetters: w.dlq, auth: byRole }).fastify, {
      prefix: "/ops",
    });
    const form = { "content-type": "application/x-www-form-urlencoded" };
    expect(
      (await host.inject({ method: "POST", url: "/form", headers: form, payload: "a=1" })).json(),
    ).toEqual({
      parsedByTheApp: "a=1",
    });
    const refused = await host.inject({
      method: "POST",
      url: "/ops/dead-letters/purge",
      headers: { ...form, "x-role": "operator" },
      payload: "scope=all&csrf=forged.token",
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain("token is missing or stale");
    await host.close();
  });

  it("answers 500 when the auth hook throws, and logs why", async () => {
    const logged: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error: (message: string) => void logged.push(message),
    };
    const broken = Fastify();
    const auth = () => {
      throw new Error("session store down");
    };
    await broken.register(operationsDashboard({ deadLetters: w.dlq, auth, logger }).fastify);
    const res = await broken.inject({ method: "GET", url: "/api/counts" });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain("orders.placed");
    expect(logged).toEqual(["catga dashboard: the auth hook threw; the request was refused"]);
    await broken.close();
  });
});

describe("the dashboard on node:http", () => {
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    const handle = operationsDashboard({ deadLetters: w.dlq, auth: byRole }).nodeHandler({
      basePath: "/ops/",
    });
    server = createServer((request, response) => {
      handle(request, response).then((handled) => {
        if (!handled) response.writeHead(404).end("not the dashboard");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("answers under its base path only, and without a pool shows no store views", async () => {
    const other = await fetch(`${origin}/elsewhere`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe("not the dashboard");
    const counts = await fetch(`${origin}/ops/api/counts`, { headers: { "x-role": "reader" } });
    expect(counts.status).toBe(200);
    expect(((await counts.json()) as { byKind: { command: number } }).byKind.command).toBe(1);
    const overview = await (await fetch(`${origin}/ops`, { headers: { "x-role": "reader" } })).text();
    expect(overview).toContain("No PostgreSQL pool");
    expect((await fetch(`${origin}/ops/outbox`, { headers: { "x-role": "reader" } })).status).toBe(404);
  });

  it("purges by filter through a form post, and refuses a body that is not a form", async () => {
    const list = await fetch(`${origin}/ops/dead-letters?kind=command`, {
      headers: { "x-role": "operator" },
    });
    const cookie = cookieOf(list.headers.get("set-cookie") ?? undefined);
    const token = formToken(await list.text());
    const headers = { "x-role": "operator", cookie, origin };
    const json = await fetch(`${origin}/ops/dead-letters/purge`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ scope: "all", csrf: token }),
    });
    expect(json.status).toBe(415);
    const purged = await fetch(`${origin}/ops/dead-letters/purge`, {
      method: "POST",
      headers,
      body: new URLSearchParams({ scope: "filter", kind: "command", csrf: token }),
    });
    expect(purged.status).toBe(200);
    expect(await purged.text()).toContain("Purged 1 dead letter.");
    expect((await w.dlq.counts()).byKind.command).toBe(0);
  });
});

describe("the dashboard's Cluster page", () => {
  const net = new TestCluster();
  afterAll(() => net.close());

  it("lists the members this process sees, as HTML and JSON, only when given a cluster", async () => {
    const self = await net.join({ service: "billing", instanceId: "billing-1", version: "1.4.0" });
    await net.join({ service: "audit", instanceId: "audit-1", weight: 2 });
    await until(() => self.members().length === 2, 10_000, "billing-1 to see audit-1");
    const host = Fastify();
    await host.register(operationsDashboard({ deadLetters: w.dlq, auth: byRole, cluster: self }).fastify, {
      prefix: "/ops",
    });
    const get = (url: string) => host.inject({ method: "GET", url, headers: { "x-role": "reader" } });
    const page = await get("/ops/cluster");
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('href="/ops/cluster" class="active">Cluster</a>');
    expect(page.body).toContain("2 instances of 2 services");
    expect(page.body).toMatch(
      /<td>audit<\/td><td><code>audit-1<\/code><\/td><td>0\.0\.0<\/td><td class="num">2<\/td>/,
    );
    expect(page.body).toMatch(/<td>billing<\/td><td><code>billing-1<\/code><\/td><td>1\.4\.0<\/td>/);
    const api = await get("/ops/api/cluster");
    expect(
      api
        .json()
        .map((m: { instanceId: string }) => m.instanceId)
        .sort(),
    ).toEqual(["audit-1", "billing-1"]);
    expect(api.json()[0]).not.toHaveProperty("self");
    await host.close();
    // Without a cluster there is no such page and no link to it.
    const overview = await app.inject({ method: "GET", url: "/ops/", headers: { "x-role": "reader" } });
    expect(overview.body).not.toContain(">Cluster</a>");
    expect(
      (await app.inject({ method: "GET", url: "/ops/cluster", headers: { "x-role": "reader" } })).statusCode,
    ).toBe(404);
  });

  it("refuses a cluster option that is not a cluster, naming the field", () => {
    let error: unknown;
    try {
      operationsDashboard({ deadLetters: w.dlq, auth: byRole, cluster: {} as never });
    } catch (e) {
      error = e;
    }
    expect((error as CatgaConfigError).issues.map((i) => i.path)).toEqual(["cluster"]);
  });
});

describe("the dashboard's saga actions", () => {
  const Start = defineCommand("checkout.start").payload<{ orderId: string }>();
  const Pay = defineCommand("checkout.pay").payload<{ orderId: string }>();
  const checkout = defineSaga<{ orderId: string }>("checkout")
    .startedBy(Start, { id: (p) => p.orderId, init: (p) => ({ orderId: p.orderId }) })
    .step("pay", { send: Pay, payload: (s) => ({ orderId: s.orderId }) });

  it("aborts a failed instance for an operator with a token and a reason; refuses the rest, coded", async () => {
    const store = new PostgresSagaStore({ pool: w.pool, schema: w.schema });
    const catga = createCatga({ logger: silentLogger })
      .handle(Pay, () => undefined)
      .build();
    const host = Fastify();
    await host.register(
      operationsDashboard({
        deadLetters: w.dlq,
        pool: w.pool,
        schema: w.schema,
        auth: byRole,
        sagaActions: { checkout: sagaOperations(catga, checkout, store) },
      }).fastify,
      { prefix: "/ops" },
    );
    const list = await host.inject({
      method: "GET",
      url: "/ops/sagas?saga=checkout&status=failed",
      headers: { "x-role": "operator" },
    });
    expect(list.body).toContain('action="/ops/sagas/settle"');
    expect(list.body).toContain('value="c-1"');
    const reader = await host.inject({
      method: "GET",
      url: "/ops/sagas?saga=checkout&status=failed",
      headers: { "x-role": "reader" },
    });
    expect(reader.body).not.toContain("/ops/sagas/settle");
    const token = formToken(list.body);
    const cookie = cookieOf(list.headers["set-cookie"]);
    const settle = (form: Record<string, string>, role = "operator") =>
      host.inject({
        method: "POST",
        url: "/ops/sagas/settle",
        headers: {
          "x-role": role,
          "content-type": "application/x-www-form-urlencoded",
          host: "localhost:80",
          origin: "http://localhost:80",
          cookie,
        },
        payload: new URLSearchParams(form).toString(),
      });
    const abort = { saga: "checkout", id: "c-1", action: "abort", reason: "refunded by hand" };
    expect((await settle(abort)).statusCode).toBe(403); // no token
    expect((await settle({ ...abort, csrf: token }, "reader")).statusCode).toBe(403);
    const noReason = await settle({ ...abort, reason: "", csrf: token });
    expect(noReason.body).toContain("CATGA_INVALID_ARGUMENT");
    const unknownSaga = await settle({ ...abort, saga: "shipping", csrf: token });
    expect(unknownSaga.body).toContain("no actions are configured for saga");
    expect((await store.get("checkout", "c-1"))?.status).toBe("failed");

    const done = await settle({ ...abort, csrf: token });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain("Aborted c-1: nothing more runs.");
    const aborted = await store.get("checkout", "c-1");
    expect(aborted?.status).toBe("aborted");
    expect(aborted?.progress.operator).toMatchObject({ action: "abort", reason: "refunded by hand" });
    // Only a failed instance can be settled: a second abort is refused, coded.
    expect((await settle({ ...abort, csrf: token })).body).toContain("CATGA_INVALID_ARGUMENT");
    await host.close();
    await catga.close();
  });
});
