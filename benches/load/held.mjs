// What the load suite calls "held" at an offered rate, and the sweep's verdict over many rates
// (benches/load.mjs, benches/load-sweep.mjs). Pure functions, unit-tested in
// __test__/benches/load-sweep.test.ts.

/**
 * One run at `rate` req/s held it: no error, timeout or non-2xx, and at least 97 % of the rate
 * answered per offered second (load.mjs counts answers to requests written within the run, so a
 * server that falls behind shows up here even when nothing failed).
 */
export function heldAt(run, rate) {
  return run.errors + run.timeouts + run.non2xx === 0 && run.rps >= 0.97 * rate;
}

/**
 * Per mode over sweep rows ({ rate, mode, held, p99: per round }): the rates held with p99 <
 * `bound` in every round (`within`), the highest of them, the highest rate held at all, and how
 * far the within-bound rates run without a gap from the lowest of them (`contiguous`): a rate that
 * passes above one that failed is reported, not hidden behind the highest.
 */
export function sweepVerdicts(rows, bound) {
  const modes = [...new Set(rows.map((r) => r.mode))];
  return modes.map((mode) => {
    const mine = rows.filter((r) => r.mode === mode).sort((a, b) => a.rate - b.rate);
    const ok = (r) => r.held && r.p99.every((p) => p < bound);
    const within = mine.filter(ok).map((r) => r.rate);
    const first = mine.findIndex(ok);
    let contiguous;
    for (let i = first; i >= 0 && i < mine.length && ok(mine[i]); i++) contiguous = mine[i].rate;
    const held = mine.filter((r) => r.held).map((r) => r.rate);
    return {
      mode,
      within,
      outside: mine.filter((r) => !ok(r)).map((r) => r.rate),
      highestWithin: within.at(-1),
      contiguous,
      highestHeld: held.at(-1),
    };
  });
}
