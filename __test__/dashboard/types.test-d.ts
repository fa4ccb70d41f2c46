import type { FastifyPluginAsync } from "fastify";
import { describe, expectTypeOf, it } from "vitest";
import { type DashboardNodeHandler, operationsDashboard } from "../../ts/entries/dashboard.js";
import type { DeadLetters } from "../../ts/entries/operations.js";

declare const dlq: DeadLetters;

describe("operationsDashboard types", () => {
  it("requires an auth hook, or the one spelled-out way to go without", () => {
    // @ts-expect-error -- auth is required: the dashboard never acts for an unauthenticated caller by default
    operationsDashboard({ deadLetters: dlq });
    operationsDashboard({ deadLetters: dlq, auth: "anonymous-read-only" });
    // @ts-expect-error -- no other string turns auth off
    operationsDashboard({ deadLetters: dlq, auth: "none" });
    // @ts-expect-error -- a hook answers "operate", "read", false or a refusal, not a boolean true
    operationsDashboard({ deadLetters: dlq, auth: () => true });
    operationsDashboard({ deadLetters: dlq, auth: async () => ({ status: 401 }) });
  });

  it("mounts as a Fastify plugin and as a node:http handler", () => {
    const dashboard = operationsDashboard({ deadLetters: dlq, auth: () => "read" });
    expectTypeOf(dashboard.fastify).toEqualTypeOf<FastifyPluginAsync>();
    expectTypeOf(dashboard.nodeHandler({ basePath: "/ops" })).toEqualTypeOf<DashboardNodeHandler>();
  });
});
