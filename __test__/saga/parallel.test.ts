// Parallel steps with fan-in: branches sent together, one write once all are in, compensation of
// the branches that succeeded (in reverse order of completion) when one fails.
import { describe, expect, it } from "vitest";
import {
  CatgaConfigError,
  CatgaError,
  createCatga,
  defineCommand,
  defineSaga,
  InMemorySagaStore,
  type SagaInstance,
  type SagaStarted,
  type SagaStore,
  sagaOperations,
  silentLogger,
} from "../../ts/index.js";
import { eventually } from "../persistence/helpers.js";

interface TripState {
  tripId: string;
  flight?: string;
  hotel?: string;
  car?: string;
  invoice?: string;
}

const BookTrip = defineCommand("trips.book").payload<{ tripId: string }>().returns<SagaStarted>();
const Flight = defineCommand("trips.flight").payload<{ tripId: string }>().returns<{ flight: string }>();
const Hotel = defineCommand("trips.hotel").payload<{ tripId: string }>().returns<{ hotel: string }>();
const Car = defineCommand("trips.car").payload<{ tripId: string }>().returns<{ car: string }>();
const Invoice = defineCommand("trips.invoice").payload<{ tripId: string }>().returns<{ invoice: string }>();
const CancelFlight = defineCommand("trips.flight.cancel").payload<{ flight: string }>();
const CancelHotel = defineCommand("trips.hotel.cancel").payload<{ tripId: string }>();

/** What each service does: a delay and whether it fails, per command; calls in the order they began. */
interface Plan {
  delayMs: Partial<Record<"flight" | "hotel" | "car" | "invoice", number>>;
  fail: Partial<Record<"flight" | "hotel" | "car" | "invoice", string>>;
  calls: string[];
}

function tripSaga(when?: (s: Readonly<TripState>) => boolean) {
  return defineSaga<TripState>("trip")
    .startedBy(BookTrip, { id: (p) => p.tripId, init: (p) => ({ tripId: p.tripId }) })
    .parallel(
      "book",
      {
        flight: {
          send: Flight,
          payload: (s) => ({ tripId: s.tripId }),
          result: (s, r) => ({ ...s, flight: r.flight }),
        },
        hotel: {
          send: Hotel,
          payload: (s) => ({ tripId: s.tripId }),
          result: (s, r) => ({ ...s, hotel: r.hotel }),
        },
        car: { send: Car, payload: (s) => ({ tripId: s.tripId }), result: (s, r) => ({ ...s, car: r.car }) },
      },
      when === undefined ? {} : { when },
    )
    .compensate("flight", { send: CancelFlight, payload: (s) => ({ flight: s.flight ?? "unknown" }) })
    .compensate("hotel", { send: CancelHotel, payload: (s) => ({ tripId: s.tripId }) })
    .step("invoice", {
      send: Invoice,
      payload: (s) => ({ tripId: s.tripId }),
      result: (s, r) => ({ ...s, invoice: r.invoice }),
    });
}

function hostTrip(plan: Plan, saga = tripSaga(), store: SagaStore = new InMemorySagaStore()) {
  const serve =
    <Key extends keyof Plan["delayMs"]>(key: Key) =>
    async ({ tripId }: { tripId: string }, ctx: { messageId: string }) => {
      plan.calls.push(`${key} ${ctx.messageId}`);
      const delay = plan.delayMs[key] ?? 0;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      const failure = plan.fail[key];
      const code: string | undefined = failure;
      if (code !== undefined) throw new CatgaError(code, `${key} refused`);
      return `${key}-${tripId}`;
    };
  const catga = createCatga({ logger: silentLogger })
    .handle(Flight, async (p, ctx) => ({ flight: await serve("flight")(p, ctx) }))
    .handle(Hotel, async (p, ctx) => ({ hotel: await serve("hotel")(p, ctx) }))
    .handle(Car, async (p, ctx) => ({ car: await serve("car")(p, ctx) }))
    .handle(Invoice, async (p, ctx) => ({ invoice: await serve("invoice")(p, ctx) }))
    .handle(CancelFlight, ({ flight }, ctx) => {
      plan.calls.push(`cancel-flight ${flight} ${ctx.messageId}`);
    })
    .handle(CancelHotel, ({ tripId }, ctx) => {
      plan.calls.push(`cancel-hotel ${tripId} ${ctx.messageId}`);
    })
    .saga(saga, { store, compensationBackoffMs: 1 })
    .build();
  const settled = async (id: string, status: string) => {
    await eventually(async () => (await store.get("trip", id))?.status === status, 10_000, `${id} ${status}`);
    return (await store.get("trip", id)) as SagaInstance<TripState>;
  };
  return { catga, store, settled };
}

const plan = (over: Partial<Plan> = {}): Plan => ({ delayMs: {}, fail: {}, calls: [], ...over });

describe("parallel saga steps (fan-in)", () => {
  it("sends every branch at once, continues when all succeeded, and applies their results", async () => {
    // The flight answers last: had the branches run in turn, hotel and car would start after it.
    const p = plan({ delayMs: { flight: 30 } });
    const { catga, settled } = hostTrip(p);
    (await catga.send(BookTrip, { tripId: "t1" })).unwrap();
    const done = await settled("t1", "completed");
    expect(p.calls.slice(0, 3)).toEqual(["flight trip:t1:flight", "hotel trip:t1:hotel", "car trip:t1:car"]);
    expect(p.calls[3]).toBe("invoice trip:t1:invoice"); // after the fan-in, not before the flight
    expect(done.state).toEqual({
      tripId: "t1",
      flight: "flight-t1",
      hotel: "hotel-t1",
      car: "car-t1",
      invoice: "invoice-t1",
    });
    // Recorded in the order their Results came; the flight came last.
    expect(done.progress.done).toEqual(["hotel", "car", "flight", "invoice"]);
  });

  it("one failing branch: the others are awaited, and those that succeeded are undone in reverse order of completion", async () => {
    const p = plan({ delayMs: { hotel: 20, car: 40 }, fail: { car: "NO_CARS" } });
    const { catga, settled } = hostTrip(p);
    (await catga.send(BookTrip, { tripId: "t2" })).unwrap();
    const done = await settled("t2", "compensated");
    expect(done.progress.error).toMatchObject({ code: "NO_CARS", step: "car" });
    expect(done.progress.done).toEqual(["flight", "hotel"]);
    // hotel completed after flight: undone first. The car (failed) has nothing to undo; no invoice.
    expect(p.calls.slice(3)).toEqual([
      "cancel-hotel t2 trip:t2:hotel:undo:1",
      "cancel-flight flight-t2 trip:t2:flight:undo:1",
    ]);
  });

  it("a failing branch: the results of those that succeeded are recorded, for their compensations", async () => {
    const p = plan({ delayMs: { flight: 30 }, fail: { flight: "NO_FLIGHTS" } });
    const { catga, settled } = hostTrip(p);
    (await catga.send(BookTrip, { tripId: "t3" })).unwrap();
    const done = await settled("t3", "compensated");
    expect(done.state).toEqual({ tripId: "t3", hotel: "hotel-t3", car: "car-t3" });
    expect(p.calls.slice(3)).toEqual(["cancel-hotel t3 trip:t3:hotel:undo:1"]); // the car has no compensation
  });

  it("a parallel step whose `when` is false is skipped as a whole", async () => {
    const p = plan();
    const { catga, settled } = hostTrip(
      p,
      tripSaga(() => false),
    );
    (await catga.send(BookTrip, { tripId: "t4" })).unwrap();
    const done = await settled("t4", "completed");
    expect(p.calls).toEqual(["invoice trip:t4:invoice"]);
    expect(done.progress.done).toEqual(["invoice"]);
  });

  it("a failing step after the fan-in undoes every branch too", async () => {
    const p = plan({ fail: { invoice: "BILLING_DOWN" } });
    const { catga, settled } = hostTrip(p);
    (await catga.send(BookTrip, { tripId: "t5" })).unwrap();
    const done = await settled("t5", "compensated");
    expect(done.progress.error).toMatchObject({ code: "BILLING_DOWN", step: "invoice" });
    expect(p.calls.filter((c) => c.startsWith("cancel")).sort()).toEqual([
      "cancel-flight flight-t5 trip:t5:flight:undo:1",
      "cancel-hotel t5 trip:t5:hotel:undo:1",
    ]);
  });

  it("a fan-in write that failed (store outage) sends every branch again under its id, once woken", async () => {
    const p = plan();
    const inner = new InMemorySagaStore();
    let failFanIn = 1;
    const store: SagaStore = {
      insert: (i) => inner.insert(i),
      get: (saga, id) => inner.get(saga, id),
      list: (q) => inner.list(q),
      update: (next) => {
        if (failFanIn > 0 && next.progress.done.includes("car")) {
          failFanIn--;
          return Promise.reject(new CatgaError("CATGA_STORE_FAILED", "saga store: update failed: down"));
        }
        return inner.update(next);
      },
    };
    const { catga, settled } = hostTrip(p, tripSaga(), store);
    (await catga.send(BookTrip, { tripId: "t6" })).unwrap();
    await eventually(() => failFanIn === 0, 5_000, "the failed fan-in write");
    await eventually(async () => (await inner.get("trip", "t6"))?.progress.inFlight === "book");
    await sagaOperations(catga, tripSaga(), store).wake("t6");
    await settled("t6", "completed");
    expect(p.calls.filter((c) => !c.startsWith("invoice")).sort()).toEqual([
      "car trip:t6:car",
      "car trip:t6:car",
      "flight trip:t6:flight",
      "flight trip:t6:flight",
      "hotel trip:t6:hotel",
      "hotel trip:t6:hotel",
    ]);
  });

  it("bad parallel definitions are CatgaConfigError at build, listed together", () => {
    const saga = defineSaga<TripState>("badtrip")
      .startedBy(BookTrip, { id: (p) => p.tripId, init: (p) => ({ tripId: p.tripId }) })
      .step("flight", { send: Flight, payload: (s) => ({ tripId: s.tripId }) })
      .parallel("one", { hotel: { send: Hotel, payload: (s) => ({ tripId: s.tripId }) } })
      .parallel("two", {
        flight: { send: Flight, payload: (s) => ({ tripId: s.tripId }) }, // a step has this name
        two: { send: Car, payload: (s) => ({ tripId: s.tripId }) }, // the step's own name
        car: { send: Car, payload: (s) => ({ tripId: s.tripId }), timeoutMs: 0 },
        hotel: { send: Hotel, payload: "no" as never },
      })
      // (the types let "two" through: a branch has that name too)
      .compensate("two", { send: CancelHotel, payload: (s) => ({ tripId: s.tripId }) });
    let error: unknown;
    try {
      createCatga({ logger: silentLogger })
        .handle(Flight, () => ({ flight: "f" }))
        .handle(Hotel, () => ({ hotel: "h" }))
        .handle(Car, () => ({ car: "c" }))
        .handle(CancelHotel, () => {})
        .saga(saga, { store: new InMemorySagaStore() })
        .build();
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(CatgaConfigError);
    expect((error as CatgaConfigError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "sagas.badtrip.steps.one.branches: a parallel step needs at least two branches (one is a step)",
      "sagas.badtrip.steps.flight: duplicate step name",
      "sagas.badtrip.steps.two.branches.two: duplicate step name",
      "sagas.badtrip.steps.two.branches.car.timeoutMs: must be a positive finite number, got 0",
      "sagas.badtrip.steps.two.branches.hotel.payload: must be a function of the state",
      "sagas.badtrip.compensations.two: a parallel step is undone by its branches' compensations",
    ]);
  });
});
