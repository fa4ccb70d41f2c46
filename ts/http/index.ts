export { InFlight } from "./in-flight.js";
export type { CatgaFastifyOptions, HealthRouteOptions } from "./options.js";
export {
  type CatgaFastifyRegister,
  type CatgaReplyOptions,
  catgaFastify,
  type RegisteredCatga,
  type RegisteredContracts,
} from "./plugin.js";
export {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_STATUSES,
  type Problem,
  type ProblemDetails,
  type ProblemMapping,
  type ProblemStatuses,
  problemOf,
  statusTitle,
} from "./problems.js";
export type { RequestMessaging } from "./request-messaging.js";
export { isTraceparent, traceHeadersOf } from "./trace-context.js";
