export type { DashboardNodeHandler, DashboardNodeOptions, OperationsDashboard } from "./mount.js";
export { operationsDashboard } from "./mount.js";
export type { DashboardAccess, DashboardAuth, OperationsDashboardOptions } from "./options.js";
export { ANONYMOUS_READ_ONLY } from "./options.js";
