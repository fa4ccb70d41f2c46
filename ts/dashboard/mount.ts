/**
 * `operationsDashboard(options)`: the dashboard as a Fastify plugin (`app.register(d.fastify,
 * { prefix })`) and as a node:http handler (`d.nodeHandler({ basePath })`), both over the same
 * routes. Fastify is only a type here: the plugin is a plain async function, encapsulated (its
 * form parser applies to its own routes only).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyPluginAsync } from "fastify";
import { CatgaError, ErrorCodes } from "../errors.js";
import { checkDashboardOptions, type OperationsDashboardOptions } from "./options.js";
import { type DashboardRequest, type DashboardResponse, DashboardRoutes, MAX_FORM_BYTES } from "./routes.js";

/** Options of `nodeHandler`. */
export interface DashboardNodeOptions {
  /**
   * Where the dashboard is mounted: requests under it are answered, others are left to the caller
   * (the handler resolves `false`).
   * @default "/"
   */
  readonly basePath?: string;
}

/**
 * A node:http handler: resolves `true` once it answered, `false` for a path outside its
 * `basePath` (nothing written: answer it yourself).
 */
export type DashboardNodeHandler = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;

/** The dashboard, ready to mount. */
export interface OperationsDashboard {
  /** A Fastify plugin: `await app.register(dashboard.fastify, { prefix: "/ops" })`. */
  readonly fastify: FastifyPluginAsync;
  /** A node:http handler for `basePath`. */
  nodeHandler(options?: DashboardNodeOptions): DashboardNodeHandler;
}

/**
 * A web dashboard over the operations API: dead letters (filter, inspect, replay, purge), the
 * outbox backlog, the inbox and saga instances, with an `auth` hook deciding per request who may
 * read and who may act (docs/guides/operations.md). Throws CatgaConfigError for bad options, `auth`
 * missing included.
 */
export function operationsDashboard(options: OperationsDashboardOptions): OperationsDashboard {
  const routes = new DashboardRoutes(checkDashboardOptions(options));
  const fastify: FastifyPluginAsync = async (instance) => {
    const base = trimSlash(instance.prefix);
    // Its own form parser, in its own context: the app's (e.g. @fastify/formbody) stays as it is.
    const FORM = "application/x-www-form-urlencoded";
    if (instance.hasContentTypeParser(FORM)) instance.removeContentTypeParser(FORM);
    instance.addContentTypeParser(
      FORM,
      { parseAs: "string", bodyLimit: MAX_FORM_BYTES },
      (_request, body, done) => done(null, body),
    );
    const handler = async (
      request: import("fastify").FastifyRequest,
      reply: import("fastify").FastifyReply,
    ): Promise<void> => {
      const url = new URL(request.url, "http://dashboard.invalid");
      const path = url.pathname.slice(base.length) || "/";
      const form =
        request.method === "POST" && typeof request.body === "string"
          ? new URLSearchParams(request.body)
          : undefined;
      const answer = await routes.handle(
        { method: request.method, path, query: url.searchParams, form, raw: request.raw },
        base,
      );
      await reply.code(answer.status).headers(answer.headers).send(answer.body);
    };
    instance.route({ method: ["GET", "POST"], url: "/", handler });
    instance.route({ method: ["GET", "POST"], url: "/*", handler });
  };
  return {
    fastify,
    nodeHandler({ basePath = "/" }: DashboardNodeOptions = {}) {
      if (typeof basePath !== "string" || !basePath.startsWith("/"))
        throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `basePath must be a path starting with "/"`, {
          details: { field: "basePath" },
        });
      const base = trimSlash(basePath);
      return async (request, response) => {
        const url = new URL(request.url ?? "/", "http://dashboard.invalid");
        if (!(url.pathname === base || url.pathname.startsWith(`${base}/`))) return false;
        const method = request.method ?? "GET";
        let form: URLSearchParams | undefined;
        if (method === "POST") {
          const body = await readForm(request);
          if (typeof body !== "string") {
            send(response, body);
            return true;
          }
          form = new URLSearchParams(body);
        }
        const dashboardRequest: DashboardRequest = {
          method,
          path: url.pathname.slice(base.length) || "/",
          query: url.searchParams,
          form,
          raw: request,
        };
        send(response, await routes.handle(dashboardRequest, base));
        return true;
      };
    },
  };
}

/** "/ops/" → "/ops", "/" → "". */
function trimSlash(path: string): string {
  return path.replace(/\/+$/, "");
}

function send(response: ServerResponse, answer: DashboardResponse): void {
  response.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
  response.end(response.req?.method === "HEAD" ? undefined : answer.body);
}

/** The url-encoded body of a POST, or the refusal to send (wrong type, too large). */
async function readForm(request: IncomingMessage): Promise<string | DashboardResponse> {
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const refuse = (status: number, body: string): DashboardResponse => ({
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
    body,
  });
  if (type !== "application/x-www-form-urlencoded")
    return refuse(415, "The dashboard's actions take application/x-www-form-urlencoded forms.");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) {
      request.resume();
      return refuse(413, "The form is too large.");
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
