/**
 * The Fastify plugin: `fastify.catga` (the mediator), `request.catga` (its calls carrying the
 * request's trace context), `reply.catga(result)` (a Result as a reply, failures as RFC 9457
 * problems), health routes, and a close that lets in-flight calls finish before the mediator
 * closes.
 */
import type {
  ContextConfigDefault,
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
  RouteGenericInterface,
} from "fastify";
import type { FastifyReplyType, ResolveFastifyReplyType } from "fastify/types/type-provider.js";
import fastifyPlugin from "fastify-plugin";
import { CatgaError } from "../errors.js";
import type { Messaging } from "../mediator/context.js";
import type { AnyContract } from "../mediator/contracts.js";
import type { Catga } from "../mediator/mediator.js";
import type { ErrorInfo, Result } from "../mediator/result.js";
import { fastifyHealthHandlers, type ReplyLike } from "../observability/health.js";
import { InFlight } from "./in-flight.js";
import { type CatgaFastifyOptions, checkFastifyOptions, DEFAULT_DRAIN_TIMEOUT_MS } from "./options.js";
import {
  blank,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_STATUSES,
  type Problem,
  type ProblemDetails,
  type ProblemStatuses,
  problemOf,
} from "./problems.js";
import { requestMessaging } from "./request-messaging.js";
import { traceHeadersOf } from "./trace-context.js";

/**
 * Augment this interface to type `fastify.catga` and `request.catga` with your mediator (so that
 * sending a contract nothing handles does not compile):
 * `declare module "@catga/native/fastify" { interface CatgaFastifyRegister { catga: typeof catga } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by users' declaration merging
export interface CatgaFastifyRegister {}

/** The registered mediator type ({@link CatgaFastifyRegister}), else `Catga` of any contract. */
export type RegisteredCatga = CatgaFastifyRegister extends { catga: infer Registered extends Catga<never> }
  ? Registered
  : Catga;

/** The contracts the registered mediator handles. */
export type RegisteredContracts = RegisteredCatga extends Catga<infer Handled> ? Handled : AnyContract;

/** Options of `reply.catga(result, options)`. */
export interface CatgaReplyOptions {
  /**
   * Status of a successful reply.
   * @default 200, or 204 when the value is undefined
   */
  readonly status?: number;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The mediator given to the plugin. */
    readonly catga: RegisteredCatga;
  }
  interface FastifyRequest {
    /**
     * The mediator's `send`/`query`/`publish` for this request: the request's W3C trace context
     * goes into the messages' headers, and a graceful close waits for the call.
     */
    readonly catga: Messaging<RegisteredContracts>;
  }
  interface FastifyReply<
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    ContextConfig = ContextConfigDefault,
    SchemaCompiler extends FastifySchema = FastifySchema,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    ReplyType extends FastifyReplyType = ResolveFastifyReplyType<TypeProvider, SchemaCompiler, RouteGeneric>,
  > {
    /**
     * Sends a Result: its value (200, 204 when undefined, or `options.status`), or its error as
     * an RFC 9457 problem with the status from the plugin's `statuses` table. The value must fit
     * the route's declared `Reply` type.
     */
    catga(
      result: Result<ReplyType>,
      options?: CatgaReplyOptions,
    ): FastifyReply<
      RouteGeneric,
      RawServer,
      RawRequest,
      RawReply,
      ContextConfig,
      SchemaCompiler,
      TypeProvider,
      ReplyType
    >;
  }
}

/** What a wrong argument was, for a developer's error message (never its content). */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object without a boolean `ok`" : `a ${typeof value}`;
}

/** Sends `problem` (status, `Retry-After`, problem+json body). */
function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  reply.code(problem.status).header("content-type", PROBLEM_CONTENT_TYPE);
  if (problem.retryAfterSeconds !== undefined) reply.header("retry-after", String(problem.retryAfterSeconds));
  return reply.send(problem.body);
}

/** Server errors are logged with everything (the client gets no detail); client errors are not. */
function logFailure(request: FastifyRequest, status: number, error: ErrorInfo | Error): void {
  if (status < 500) return;
  const { code, message } = error as { code?: unknown; message: string };
  request.log.error({ err: (error as ErrorInfo).cause ?? error, code }, `catga: ${message}`);
}

/** Fastify's own validation errors (`error.validation`) as `{ path, message }` issues. */
function validationIssues(error: FastifyError): { path: string; message: string }[] {
  return (error.validation ?? []).map((issue) => ({
    path: `${error.validationContext ?? "body"}${issue.instancePath.replaceAll("/", ".")}`,
    message: issue.message ?? "is invalid",
  }));
}

function errorHandler(statuses: ProblemStatuses) {
  return (error: FastifyError | CatgaError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (error instanceof CatgaError) {
      const problem = problemOf(error, statuses);
      logFailure(request, problem.status, error);
      return sendProblem(reply, problem);
    }
    const status = typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, a route schema) say nothing internal: shown.
      const body: ProblemDetails = {
        ...blank(status),
        detail: error.message,
        ...(typeof error.code === "string" ? { code: error.code } : {}),
        ...(error.validation !== undefined ? { issues: validationIssues(error) } : {}),
      };
      return sendProblem(reply, { status, retryAfterSeconds: undefined, body });
    }
    const serverStatus = status >= 500 && status <= 599 ? status : 500;
    logFailure(request, serverStatus, error);
    return sendProblem(reply, {
      status: serverStatus,
      retryAfterSeconds: undefined,
      body: blank(serverStatus),
    });
  };
}

async function plugin(fastify: FastifyInstance, rawOptions: CatgaFastifyOptions): Promise<void> {
  const options = checkFastifyOptions(rawOptions);
  const catga = options.catga;
  const statuses: ProblemStatuses = { ...PROBLEM_STATUSES, ...options.statuses };
  const inFlight = new InFlight();
  const traceContext = options.traceContext !== false;

  fastify.decorate("catga", catga);
  fastify.decorateRequest("catga", {
    getter(this: FastifyRequest) {
      return requestMessaging(catga, traceContext ? traceHeadersOf(this.headers) : undefined, inFlight);
    },
  });
  let closing = false;
  fastify.decorateReply(
    "catga",
    function (this: FastifyReply, result: Result<unknown>, replyOptions?: CatgaReplyOptions) {
      // A keep-alive connection kept by its client would hold `server.close()` until its idle
      // timeout (Fastify's is 72 s): replies sent while closing ask the client to let go.
      if (closing) this.header("connection", "close");
      // Typed callers cannot get here; from JavaScript, say what was wrong instead of failing on
      // `result.error` (the error handler answers 500 and logs this message).
      if (typeof result !== "object" || result === null || typeof result.ok !== "boolean")
        throw new TypeError(
          `reply.catga(result): result must be a Result ({ ok, value } or { ok, error }), got ${describe(result)}`,
        );
      if (result.ok) {
        const status = replyOptions?.status ?? (result.value === undefined ? 204 : 200);
        return this.code(status).send(result.value);
      }
      const problem = problemOf(result.error, statuses);
      logFailure(this.request, problem.status, result.error);
      return sendProblem(this, problem);
    },
  );

  if (options.errorHandler !== false) fastify.setErrorHandler(errorHandler(statuses));

  if (options.health !== false) {
    const { livePath = "/health/live", readyPath = "/health/ready", ...healthOptions } = options.health ?? {};
    const handlers = fastifyHealthHandlers(catga, healthOptions);
    // FastifyReply has the shape ReplyLike names, but its generic `code` does not unify with it.
    const like = (reply: FastifyReply) => reply as unknown as ReplyLike; // same methods, narrower generics
    fastify.get(livePath, (request, reply) => handlers.liveness(request, like(reply)));
    fastify.get(readyPath, (request, reply) => handlers.readiness(request, like(reply)));
  }

  fastify.addHook("preClose", async () => {
    closing = true;
  });
  // onClose runs once the server stopped taking connections and its open requests ended
  // (Fastify answers 503 to requests arriving meanwhile); calls started by `request.catga` get
  // up to drainTimeoutMs more (with `inject` there is no server to wait for).
  fastify.addHook("onClose", async (instance) => {
    const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const left = inFlight.size;
    if (!(await inFlight.drain(drainTimeoutMs)))
      instance.log.warn(
        { inFlight: inFlight.size, drainTimeoutMs },
        `catga: ${inFlight.size} of ${left} calls still running after ${drainTimeoutMs} ms; closing anyway`,
      );
    if (options.closeCatga !== false) await catga.close();
  });
}

/**
 * The Fastify plugin (Fastify 5): `await fastify.register(catgaFastify, { catga })`. Not
 * encapsulated: the decorations, error handler and health routes apply to the instance it is
 * registered on.
 */
export const catgaFastify: FastifyPluginAsync<CatgaFastifyOptions> = fastifyPlugin(plugin, {
  fastify: "5.x",
  name: "@catga/native/fastify",
});
