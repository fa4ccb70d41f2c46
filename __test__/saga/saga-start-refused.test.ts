import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import {
  createCatga,
  defineCommand,
  defineSaga,
  InMemorySagaStore,
  type SagaStarted,
  silentLogger,
  type Transport,
} from "../../ts/index.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";

// A durable start whose instance id is malformed, or whose initial state is too large, fails the
// same way on every delivery: it is answered once with its code, not redelivered and retried.
const Begin = defineCommand("refused.begin")
  .payload<{ id: string; note?: string }>()
  .returns<SagaStarted>()
  .durable();
const Step = defineCommand("refused.step").payload<{ id: string }>();
let idCalls = 0;
const Flow = defineSaga<{ id: string; note?: string }>("refused_flow")
  .startedBy(Begin, {
    id: (p) => {
      idCalls++;
      return p.id;
    },
    init: (p) => ({ id: p.id, note: p.note }),
  })
  .step("step", { send: Step, payload: (s) => ({ id: s.id }) });

const transports: Transport[] = [];
afterAll(async () => {
  for (const t of transports) await t.close().catch(() => undefined);
});

describe("a durable saga start that cannot start", () => {
  it("answers CATGA_INVALID_ARGUMENT or CATGA_LIMIT at its first delivery", async () => {
    const transport = await natsTransport({
      servers: NATS_URL,
      service: "host",
      prefix: uniquePrefix("refused"),
      durableCommands: {},
    });
    transports.push(transport);
    const store = new InMemorySagaStore();
    const steps: string[] = [];
    const catga = createCatga({ logger: silentLogger, transport })
      .handle(Step, (p) => {
        steps.push(p.id);
      })
      .saga(Flow, { store, maxStateBytes: 100, stateWarningBytes: 50 })
      .build();
    await transport.ready();

    const badId = await catga.send(Begin, { id: "a b" }, { await: "result" });
    expect(badId.ok || badId.error).toMatchObject({
      code: "CATGA_INVALID_ARGUMENT",
      details: { field: "id" },
    });
    expect(idCalls).toBe(1); // delivered once: not redelivered for a retry

    const tooLarge = await catga.send(Begin, { id: "big", note: "x".repeat(200) }, { await: "result" });
    expect(tooLarge.ok || tooLarge.error).toMatchObject({ code: "CATGA_LIMIT", details: { field: "state" } });
    expect(idCalls).toBe(2);

    const fine = await catga.send(Begin, { id: "good" }, { await: "result" });
    expect(fine.unwrap()).toEqual({ sagaId: "good", started: true });
    expect(await store.get("refused_flow", "big")).toBeUndefined();
    await catga.close();
  }, 30_000);
});
