// What overlapping a step's store write with the next step's send is worth when both WAIT (a store
// and services a network hop away, idle CPUs) rather than compete for CPU: a 3-step saga in process
// whose store calls and handlers each wait a fixed time (setTimeout, no CPU), one at a time.
//   npx tsup && node benches/saga-overlap.mjs [storeMs=2] [sendMs=2] [sagas=100] [dist=../dist]
// Compare two builds side by side by passing another build's dist directory (benches/RESULTS.md, "Sagas").
const storeMs = Number(process.argv[2] ?? 2);
const sendMs = Number(process.argv[3] ?? 2);
const n = Number(process.argv[4] ?? 100);
const dist = process.argv[5] ?? new URL("../dist", import.meta.url).pathname;
const { createCatga, defineCommand, defineSaga, InMemorySagaStore, silentLogger } = await import(
  `${dist}/index.js`
);
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const inner = new InMemorySagaStore();
/** Each call waits `storeMs` first, as a store a network hop away would. */
const after = (run) => wait(storeMs).then(run);
const store = {
  insert: (i) => after(() => inner.insert(i)),
  get: (s, id) => after(() => inner.get(s, id)),
  update: (i) => after(() => inner.update(i)),
  list: (q) => inner.list(q),
};
const A = defineCommand("w.a").payload().returns(),
  B = defineCommand("w.b").payload().returns(),
  C = defineCommand("w.c").payload().returns();
const Start = defineCommand("w.start").payload().returns();
const saga = defineSaga("w")
  .startedBy(Start, { id: (p) => p.id, init: (p) => ({ id: p.id }) })
  .step("a", { send: A, payload: (s) => s, result: (s, r) => ({ ...s, a: r }) })
  .step("b", { send: B, payload: (s) => s, result: (s, r) => ({ ...s, b: r }) })
  .step("c", { send: C, payload: (s) => s, result: (s, r) => ({ ...s, c: r }) });
const waiting = new Map();
const h = () => wait(sendMs).then(() => 1);
const catga = createCatga({ logger: silentLogger })
  .withSagaTelemetry({
    start: () => ({ trace: undefined, end: () => {} }),
    step: (_i, run) => run(),
    ended: ({ id }) => waiting.get(id)?.(),
  })
  .handle(A, h)
  .handle(B, h)
  .handle(C, h)
  .saga(saga, { store })
  .build();
const lat = [];
for (let i = 0; i < n; i++) {
  const id = `x${i}`;
  const t0 = performance.now();
  const done = new Promise((r) => waiting.set(id, r));
  (await catga.send(Start, { id })).unwrap();
  await done;
  lat.push(performance.now() - t0);
}
lat.sort((a, b) => a - b);
console.log(
  `${dist}: store ${storeMs} ms send ${sendMs} ms: p50 ${lat[Math.floor(n / 2)].toFixed(2)} ms (3 sends nominally ${3 * sendMs} ms; timers add up to ~1 ms each)`,
);
process.exit(0);
