/**
 * The dashboard's requests, whatever server carries them: access (the auth hook), the pages, the
 * read-only JSON API under `/api`, and the two actions (replay, purge) behind the CSRF checks.
 */
import type { IncomingMessage } from "node:http";
import type { Member } from "../cluster/membership.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import type { DeadLetter } from "../operations/dead-letter.js";
import type { DeadLetterFilter, DeadLetterSelector } from "../operations/dead-letters.js";
import { inboxStatus } from "../operations/inbox.js";
import { outboxBacklog } from "../operations/outbox.js";
import { listSagaInstances, sagaCounts } from "../operations/sagas.js";
import type { SagaListQuery } from "../saga/instance.js";
import { ICON, SCRIPT, STYLESHEET } from "./assets.js";
import { clusterPage } from "./cluster-page.js";
import { CSRF_FIELD, CsrfTokens, crossOrigin } from "./csrf.js";
import {
  actionResultPage,
  deadLetterListPage,
  deadLetterPage,
  FILTER_FIELDS,
  type ListFilter,
} from "./dead-letter-pages.js";
import { html } from "./html.js";
import { json, notice, type PageContext, page } from "./layout.js";
import {
  ANONYMOUS_READ_ONLY,
  type DashboardAccess,
  DEFAULT_PAGE_SIZE,
  type OperationsDashboardOptions,
} from "./options.js";
import { inboxPage, outboxPage, overviewPage, type Read, sagaActionPage, sagasPage } from "./store-pages.js";

/** A request as the adapters hand it over. */
export interface DashboardRequest {
  readonly method: string;
  /** The path below the mount point, starting with "/". */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The url-encoded form of a POST (undefined for other methods). */
  readonly form: URLSearchParams | undefined;
  /** The Node request: the auth hook reads it, the CSRF checks read its headers. */
  readonly raw: IncomingMessage;
}

/** What the adapters send back. */
export interface DashboardResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Largest form body read (ids of a full page and a token fit many times over). */
export const MAX_FORM_BYTES = 256 * 1024;

const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
} as const;

const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

export class DashboardRoutes {
  private readonly csrf: CsrfTokens;
  private readonly pageSize: number;
  private readonly title: string;

  constructor(private readonly options: OperationsDashboardOptions) {
    this.csrf = new CsrfTokens(options.csrfSecret);
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.title = options.title ?? "Catga operations";
  }

  /** Answers one request mounted at `base` ("" or "/ops"). */
  async handle(request: DashboardRequest, base: string): Promise<DashboardResponse> {
    let access: DashboardAccess;
    try {
      access = this.options.auth === ANONYMOUS_READ_ONLY ? "read" : await this.options.auth(request.raw);
    } catch (error) {
      this.options.logger?.error("catga dashboard: the auth hook threw; the request was refused", {
        err: error,
        path: request.path,
      });
      return text(500, "The dashboard's auth hook failed.");
    }
    if (access !== "operate" && access !== "read") {
      // Anything else a hook returns (from untyped code too) refuses: 401 only when asked for.
      const denial = typeof access === "object" && access !== null ? access : undefined;
      return withHeaders(text(denial?.status === 401 ? 401 : 403, "Not allowed."), denial?.headers ?? {});
    }

    const cookieToken = this.csrf.fromCookie(request.raw);
    const token = cookieToken ?? this.csrf.mint();
    const ctx: PageContext = {
      base,
      canOperate: access === "operate",
      csrf: token,
      title: this.title,
      hasStore: this.options.pool !== undefined,
      hasCluster: this.options.cluster !== undefined,
    };
    const response = await this.route(request, ctx).catch((error: unknown) =>
      this.failure(error, ctx, request),
    );
    if (cookieToken !== undefined || !response.headers["content-type"]?.startsWith("text/html"))
      return response;
    return {
      ...response,
      headers: {
        ...response.headers,
        "set-cookie": this.csrf.cookieHeader(token, base === "" ? "/" : base, request.raw),
      },
    };
  }

  private async route(request: DashboardRequest, ctx: PageContext): Promise<DashboardResponse> {
    const { method, path, query } = request;
    if (method === "POST") return this.act(request, ctx);
    if (method !== "GET" && method !== "HEAD")
      return withHeaders(text(405, "Method not allowed."), { allow: "GET, HEAD, POST" });
    const dlq = this.options.deadLetters;
    if (path === "/assets/dashboard.css") return asset("text/css; charset=utf-8", STYLESHEET);
    if (path === "/assets/dashboard.js") return asset("text/javascript; charset=utf-8", SCRIPT);
    if (path === "/assets/icon.svg") return asset("image/svg+xml", ICON);
    if (path === "/" || path === "") return htmlResponse(200, await this.overview(ctx));
    if (path === "/dead-letters" || path === "/api/dead-letters") {
      const filter = listFilter(query);
      const after = query.get("after") || undefined;
      const page = await dlq.list({ ...apiFilter(filter), limit: this.pageSize, after });
      if (path.startsWith("/api/")) return jsonResponse(200, page);
      return htmlResponse(200, deadLetterListPage(ctx, filter, page, await dlq.counts(), after));
    }
    const one = /^\/(api\/)?dead-letters\/([^/]+)$/.exec(path);
    if (one !== null) {
      const id = safeDecode(one[2]!);
      const letter = await dlq.get(id);
      if (letter === undefined) return notFound(ctx, one[1] !== undefined, `No dead letter has id ${id}.`);
      return one[1] !== undefined
        ? jsonResponse(200, letterJson(letter))
        : htmlResponse(200, deadLetterPage(ctx, letter));
    }
    if (path === "/api/counts") return jsonResponse(200, await dlq.counts());
    const cluster = this.options.cluster;
    if (cluster !== undefined && (path === "/cluster" || path === "/api/cluster")) {
      // The view of this process; `self` means nothing to a reader of another process's page.
      const members = cluster.members().map((member) => {
        const { self: _, ...rest } = member as Member;
        return rest;
      });
      return path.startsWith("/api/")
        ? jsonResponse(200, members)
        : htmlResponse(200, clusterPage(ctx, members));
    }
    const pool = this.options.pool;
    const schema = this.options.schema;
    if (pool !== undefined) {
      if (path === "/outbox" || path === "/api/outbox") {
        const backlog = await read(() => outboxBacklog(pool, { schema, limit: 100 }));
        if (path.startsWith("/api/"))
          return backlog.ok ? jsonResponse(200, backlog.value) : storeError(backlog);
        return htmlResponse(200, outboxPage(ctx, backlog));
      }
      if (path === "/inbox" || path === "/api/inbox") {
        const keyPrefix = query.get("keyPrefix") ?? "";
        const inbox = await read(() =>
          inboxStatus(pool, { schema, limit: 100, keyPrefix: keyPrefix === "" ? undefined : keyPrefix }),
        );
        if (path.startsWith("/api/")) return inbox.ok ? jsonResponse(200, inbox.value) : storeError(inbox);
        return htmlResponse(200, inboxPage(ctx, inbox, keyPrefix));
      }
      if (path === "/sagas" || path === "/api/sagas") {
        const saga = query.get("saga") ?? "";
        const status = query.get("status") ?? "";
        const instances =
          saga === ""
            ? undefined
            : await read(() =>
                listSagaInstances(
                  pool,
                  { saga, status: (status || undefined) as SagaListQuery["status"], limit: 100 },
                  { schema },
                ),
              );
        if (path.startsWith("/api/")) {
          const chosen = instances ?? (await read(() => sagaCounts(pool, { schema })));
          return chosen.ok ? jsonResponse(200, chosen.value) : storeError(chosen);
        }
        const counts = await read(() => sagaCounts(pool, { schema }));
        const actionable = this.options.sagaActions?.[saga] !== undefined;
        return htmlResponse(200, sagasPage(ctx, counts, instances, { saga, status }, actionable));
      }
    }
    return notFound(ctx, path.startsWith("/api/"), "No such page.");
  }

  private async overview(ctx: PageContext): Promise<string> {
    const counts = await read(() => this.options.deadLetters.counts());
    const pool = this.options.pool;
    if (pool === undefined) return overviewPage(ctx, counts, undefined, undefined, undefined);
    const schema = this.options.schema;
    const [outbox, inbox, sagas] = await Promise.all([
      read(() => outboxBacklog(pool, { schema, limit: 0 })),
      read(() => inboxStatus(pool, { schema, limit: 0 })),
      read(() => sagaCounts(pool, { schema })),
    ]);
    return overviewPage(ctx, counts, outbox, inbox, sagas);
  }

  /**
   * A replay or purge of dead letters, or a saga instance's resume or abort: same origin, a valid
   * token, an operator; then what the form names.
   */
  private async act(request: DashboardRequest, ctx: PageContext): Promise<DashboardResponse> {
    const action =
      request.path === "/dead-letters/replay"
        ? "replay"
        : request.path === "/dead-letters/purge"
          ? "purge"
          : request.path === "/sagas/settle"
            ? "settle"
            : undefined;
    if (action === undefined) return notFound(ctx, false, "No such action.");
    const section = action === "settle" ? "sagas" : "dead-letters";
    const refused = (why: string) => htmlResponse(403, page(ctx, section, "Refused", notice("bad", why)));
    if (!ctx.canOperate) return refused("This dashboard is read-only for you: nothing was done.");
    const foreign = crossOrigin(request.raw);
    if (foreign !== undefined) return refused(`Refused: ${foreign}. Nothing was done.`);
    const form = request.form ?? new URLSearchParams();
    if (!this.csrf.accepts(request.raw, form.get(CSRF_FIELD)))
      return refused(
        "Refused: the form's token is missing or stale. Reload the page and try again; nothing was done.",
      );
    if (action === "settle") return this.settleSaga(form, ctx);

    const filter = listFilter(form);
    const scope = form.get("scope");
    let selector: DeadLetterSelector;
    if (scope === "selected") selector = form.getAll("id");
    else if (scope === "all") selector = "all";
    else if (scope === "filter") selector = apiFilter(filter);
    else
      throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, "scope must be selected, filter or all", {
        details: { field: "scope" },
      });
    const dlq = this.options.deadLetters;
    const outcome = action === "replay" ? await dlq.replay(selector) : await dlq.purge(selector);
    return htmlResponse(200, actionResultPage(ctx, action, filter, outcome));
  }

  /** Resume or abort of one failed saga instance, with the operator's reason. */
  private async settleSaga(form: URLSearchParams, ctx: PageContext): Promise<DashboardResponse> {
    const saga = form.get("saga") ?? "";
    const id = form.get("id") ?? "";
    const what = form.get("action");
    const actions = this.options.sagaActions?.[saga];
    if (actions === undefined)
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `no actions are configured for saga ${JSON.stringify(saga)}`,
        {
          details: { field: "saga" },
        },
      );
    if (what !== "resume" && what !== "abort")
      throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, "action must be resume or abort", {
        details: { field: "action" },
      });
    // sagaOperations checks the id, the reason and that the instance is failed (coded errors).
    await actions[what](id, form.get("reason") ?? "");
    return htmlResponse(200, sagaActionPage(ctx, saga, id, what));
  }

  /** A failure as a page (or JSON): a CatgaError shows its code and message (operators are authenticated), anything else nothing. */
  private failure(error: unknown, ctx: PageContext, request: DashboardRequest): DashboardResponse {
    const api = request.path.startsWith("/api/");
    const coded = error instanceof CatgaError;
    if (!coded)
      this.options.logger?.error("catga dashboard: a request failed", { err: error, path: request.path });
    const status =
      coded && error.code === ErrorCodes.INVALID_ARGUMENT
        ? 400
        : coded && error.code === ErrorCodes.STORE_FAILED
          ? 502
          : 500;
    const body = coded
      ? { code: error.code, message: error.message }
      : { code: "INTERNAL", message: "internal error" };
    if (api) return jsonResponse(status, body);
    return htmlResponse(
      status,
      page(ctx, "overview", "Failed", notice("bad", html`<code>${body.code}</code> ${body.message}`)),
    );
  }
}

/** The filter fields of a query or form, as typed. */
function listFilter(params: URLSearchParams): ListFilter {
  const get = (key: (typeof FILTER_FIELDS)[number]) => (params.get(key) ?? "").trim();
  return { kind: get("kind"), type: get("type"), code: get("code"), consumer: get("consumer") };
}

/** The API's filter: empty fields left out (the API checks the rest, e.g. a bad kind). */
function apiFilter(filter: ListFilter): DeadLetterFilter {
  const out: Record<string, string> = {};
  for (const key of FILTER_FIELDS) if (filter[key] !== "") out[key] = filter[key];
  return out as DeadLetterFilter;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

async function read<T>(load: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await load() };
  } catch (error) {
    if (error instanceof CatgaError)
      return { ok: false, error: `${error.code}: ${error.message}`, code: error.code };
    return { ok: false, error: "internal error" };
  }
}

/** A dead letter as JSON: the payload bytes as base64. */
function letterJson(letter: DeadLetter): unknown {
  return JSON.parse(
    json({ ...letter, payload: Buffer.from(letter.payload).toString("base64") }, Number.MAX_SAFE_INTEGER),
  );
}

function htmlResponse(status: number, body: string): DashboardResponse {
  return { status, headers: { ...SECURITY_HEADERS, "content-type": HTML }, body };
}

function jsonResponse(status: number, value: unknown): DashboardResponse {
  return {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": JSON_TYPE },
    body: json(value, Number.MAX_SAFE_INTEGER),
  };
}

function text(status: number, body: string): DashboardResponse {
  return { status, headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" }, body };
}

function withHeaders(
  response: DashboardResponse,
  headers: Readonly<Record<string, string>>,
): DashboardResponse {
  return { ...response, headers: { ...response.headers, ...headers } };
}

function asset(type: string, body: string): DashboardResponse {
  return {
    status: 200,
    headers: { ...SECURITY_HEADERS, "cache-control": "max-age=300", "content-type": type },
    body,
  };
}

/** A failed read as JSON: a bad filter from the query string is the caller's (400), anything else the store's (502). */
function storeError(failed: { readonly error: string; readonly code?: string }): DashboardResponse {
  if (failed.code === ErrorCodes.INVALID_ARGUMENT)
    return jsonResponse(400, { code: ErrorCodes.INVALID_ARGUMENT, message: failed.error });
  return jsonResponse(502, { code: ErrorCodes.STORE_FAILED, message: failed.error });
}

function notFound(ctx: PageContext, api: boolean, message: string): DashboardResponse {
  if (api) return jsonResponse(404, { code: "NOT_FOUND", message });
  return htmlResponse(404, page(ctx, "overview", "Not found", notice("bad", message)));
}
