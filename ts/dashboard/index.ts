export type { DashboardNodeHandler, DashboardNodeOptions, OperationsDashboard } from "./mount.js";
export { operationsDashboard } from "./mount.js";
export type { DashboardAccess, DashboardAuth, OperationsDashboardOptions, SagaActions } from "./options.js";
export { ANONYMOUS_READ_ONLY } from "./options.js";
