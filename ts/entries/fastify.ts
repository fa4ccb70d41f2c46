/**
 * `@catga/native/fastify`: the Fastify 5 plugin — the mediator on the instance, Results as
 * replies with RFC 9457 problem bodies, W3C trace context into messages, health routes and a
 * graceful close (docs/guides/http.md). Needs `fastify` and `fastify-plugin` (optional peers).
 *
 * @module @catga/native/fastify
 */
export {
  type CatgaFastifyOptions,
  type CatgaFastifyRegister,
  type CatgaReplyOptions,
  catgaFastify,
  type HealthRouteOptions,
  isTraceparent,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_STATUSES,
  type Problem,
  type ProblemDetails,
  type ProblemMapping,
  type ProblemStatuses,
  problemOf,
  type RegisteredCatga,
  type RegisteredContracts,
  type RequestMessaging,
  statusTitle,
  traceHeadersOf,
} from "../http/index.js";
