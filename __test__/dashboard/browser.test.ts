// The dashboard in a real browser: Debian's chromium (/usr/bin/chromium, installed by .ci/run)
// driven by playwright-core. Load, filter, inspect, replay a dead letter that a real handler then
// handles over NATS, purge one. No console error may appear (the CSP allows only the dashboard's
// own script and stylesheet). Screenshots go to a temporary folder, or to docs/images/ with
// CATGA_UPDATE_SCREENSHOTS=1 (what docs/guides/operations.md shows).
import { existsSync, mkdtempSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Fastify, { type FastifyInstance } from "fastify";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DashboardAccess, operationsDashboard } from "../../ts/entries/dashboard.js";
import { until } from "../nats/helpers.js";
import { deadLetterSome, type World, world } from "./helpers.js";

const CHROMIUM = process.env.CATGA_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS =
  process.env.CATGA_UPDATE_SCREENSHOTS === "1"
    ? fileURLToPath(new URL("../../docs/images/", import.meta.url))
    : mkdtempSync(join(tmpdir(), "catga-dashboard-"));
const OPERATOR = { username: "ops", password: "s3cret" };

/** Basic auth: the operator acts, anyone else is asked to log in. */
function basicAuth(request: IncomingMessage): DashboardAccess {
  const expected = `Basic ${Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString("base64")}`;
  return request.headers.authorization === expected
    ? "operate"
    : { status: 401, headers: { "www-authenticate": 'Basic realm="catga"' } };
}

let w: World;
let app: FastifyInstance;
let browser: Browser;
let page: Page;
let base: string;
const consoleErrors: string[] = [];

beforeAll(async () => {
  // Not a skip: the browser test is part of the suite, and .ci/run installs chromium.
  if (!existsSync(CHROMIUM))
    throw new Error(
      `chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` (.ci/run does) or set CATGA_CHROMIUM`,
    );
  w = await world("dashui");
  await deadLetterSome(
    w,
    [{ orderId: "o-1" }, { orderId: "o-2", note: "gift wrap" }, { orderId: "o-3" }],
    ["o-4"],
  );
  app = Fastify();
  const dashboard = operationsDashboard({
    deadLetters: w.dlq,
    pool: w.pool,
    schema: w.schema,
    auth: basicAuth,
  });
  await app.register(dashboard.fastify, { prefix: "/ops" });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  base = `${address}/ops`;
  browser = await chromium.launch({ executablePath: CHROMIUM });
  const context = await browser.newContext({
    httpCredentials: OPERATOR,
    viewport: { width: 1280, height: 800 },
  });
  page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  page.on("response", (response) => {
    if (response.status() >= 400) consoleErrors.push(`${response.status()} ${response.url()}`);
  });
  page.on("dialog", (dialog) => void dialog.accept());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await w?.close();
});

describe("the dashboard in Chromium", () => {
  it("loads, filters, replays a dead letter to its handler and purges another", async () => {
    await page.goto(`${base}/`);
    expect(await page.textContent("#dead-letter-total .n")).toBe("4");
    await page.screenshot({ path: join(SHOTS, "dashboard-overview.png") });

    await page.click("nav >> text=Dead letters");
    await page.selectOption('select[name="kind"]', "event");
    await page.fill('input[name="type"]', "orders.placed");
    await page.click("#apply-filters");
    await page.waitForURL(/kind=event/);
    expect(await page.locator("#dead-letters tbody tr[data-id]").count()).toBe(3);
    await page.screenshot({ path: join(SHOTS, "dashboard-dead-letters.png") });

    await page.selectOption('select[name="kind"]', "");
    await page.fill('input[name="type"]', "");
    await page.fill('input[name="code"]', "BILLING_REFUSED");
    await page.click("#apply-filters");
    await page.waitForURL(/code=BILLING_REFUSED/);
    const commandRows = page.locator("#dead-letters tbody tr[data-id]");
    expect(await commandRows.count()).toBe(1);
    const commandId = await commandRows.first().getAttribute("data-id");

    // Inspect the gift-wrapped order's dead letter, then replay it with the handler fixed.
    await page.goto(`${base}/dead-letters?type=orders.placed`);
    const { items } = await w.dlq.list({ type: "orders.placed" });
    const target = items.find((i) => i.messageId === "msg-o-2")!;
    await page.click(`a[href$="/dead-letters/${target.id}"]`);
    expect(await page.textContent("#trace-id")).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(await page.textContent("#payload")).toContain('"note": "gift wrap"');
    await page.screenshot({ path: join(SHOTS, "dashboard-dead-letter.png"), fullPage: true });

    w.failing = false;
    await page.click("#replay-one");
    await page.waitForSelector("text=Replayed 1 dead letter.");
    await until(() => w.handled.some((h) => h.messageId === "msg-o-2"), 15_000, "the replayed event handled");
    expect(w.handled.map((h) => h.orderId)).toEqual(["o-2"]);
    expect(await w.dlq.get(target.id)).toBeUndefined();

    // Purge the command's dead letter from the list: tick it, press "Purge selected".
    await page.click("#back");
    await page.goto(`${base}/dead-letters?kind=command`);
    await page.check(`input[name="id"][value="${commandId}"]`);
    await page.click("text=Purge selected");
    await page.waitForSelector("text=Purged 1 dead letter.");
    expect((await w.dlq.counts()).byKind).toEqual({ event: 2, command: 0 });

    await page.goto(`${base}/sagas?saga=checkout&status=failed`);
    expect(await page.textContent("#saga-instances")).toContain("PAYMENT_DECLINED");
    await page.screenshot({ path: join(SHOTS, "dashboard-sagas.png") });
    await page.goto(`${base}/outbox`);
    expect(await page.textContent("#outbox-rows")).toContain("ship-7");

    expect(consoleErrors).toEqual([]);
  }, 30_000);
});
