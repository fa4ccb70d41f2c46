/**
 * `@catga/native/dashboard`: a web dashboard over the operations API (dead letters with replay
 * and purge, outbox, inbox, saga instances), mounted on Fastify or node:http behind your own auth
 * hook (docs/guides/operations.md, "Dashboard").
 */
export * from "../dashboard/index.js";
