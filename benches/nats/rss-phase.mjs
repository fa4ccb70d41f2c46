// Phase "rss" of the NATS bench: 100K msgs/s publish + consume in one fresh process
// (benches/nats/rss.mjs) for the Catga engine and nats.js, both with envelope bytes, RSS sampled
// every second: a warm-up at the rate (20 s; 5 with --quick), then the window judged (30 s; 10).

import { children, forkChild } from "./children.mjs";
import { sleep } from "./common.mjs";
import { fmt } from "./format.mjs";
import { load } from "./machine.mjs";

// Left alone, V8 doubles its young generation (new space 8.4 -> 16.8 MB) once enough has survived
// scavenges: 12-31 s into a run of either client, +10-15 MB of RSS, flat after. Both RSS children
// run with the young generation fixed at that final size, so the window sees the steady state and
// not the moment V8 happens to resize (adaptation, not growth; benches/RESULTS.md).
const RSS_V8_FLAGS = ["--min-semi-space-size=8", "--max-semi-space-size=8"];
const RSS_RATE = 100_000;
/** rss.mjs knows the user API ("catga-user"), the engine (as "catga") and nats.js. */
const RSS_IMPLS = { catga: "catga-user", engine: "catga", natsjs: "natsjs" };

async function rss(impl, { rssS, warmS }) {
  const subject = `bench.${process.pid}.rss.${impl}`;
  const child = forkChild(
    "rss.mjs",
    [impl, subject, String(RSS_RATE), String(warmS + rssS)],
    {},
    RSS_V8_FLAGS,
  );
  const done = child.next("done", (warmS + rssS + 30) * 1000);
  const result = await done;
  await Promise.race([new Promise((r) => child.child.once("exit", r)), sleep(3000)]);
  if (child.child.exitCode === null) process.kill(child.child.pid, "SIGKILL");
  children.delete(child.child.pid);
  const s = result.samples;
  const settled = s.filter((x) => x.t > warmS);
  const rssValues = settled.map((x) => x.rssMB);
  const half = Math.floor(settled.length / 2);
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    impl,
    samples: s,
    peakMB: Math.max(...s.map((x) => x.rssMB)),
    settledMinMB: Math.min(...rssValues),
    settledMaxMB: Math.max(...rssValues),
    driftMB: avg(rssValues.slice(half)) - avg(rssValues.slice(0, half)),
    deliveredPerSec: avg(settled.map((x) => x.deliveredPerSec)),
    published: result.published,
    delivered: result.delivered,
    errors: result.errors,
    throttled: result.throttled,
    load: load(),
  };
}

/**
 * Runs rss.mjs for each of `impls` it knows (bench names: "engine", "natsjs") and prints the
 * samples, a table and the engine's bar. `quick` shortens the warm-up and the window.
 */
export async function runRssPhase(impls, { quick }) {
  const RSS_S = quick ? 10 : 30;
  const RSS_WARM_S = quick ? 5 : 20;
  const picked = impls.filter((impl) => RSS_IMPLS[impl]);
  if (picked.length === 0) return [];
  console.log(
    `## RSS at ${fmt(RSS_RATE)} msgs/s publish + consume in one fresh process (${RSS_V8_FLAGS.join(" ")}): ${RSS_WARM_S}s warm-up, then ${RSS_S}s measured; user API with \`{ data: <256 bytes> }\` for catga, envelope bytes for the engine and nats.js\n`,
  );
  const results = [];
  for (const impl of picked) {
    const r = {
      ...(await rss(RSS_IMPLS[impl], { rssS: RSS_S, warmS: RSS_WARM_S })),
      label:
        impl === "engine" ? "engine (NatsConnection)" : impl === "catga" ? "catga (user API)" : "nats.js",
    };
    results.push(r);
    console.log(
      `${r.label}: rss per second (MB): ${r.samples.map((s) => s.rssMB).join(" ")}\n` +
        `  delivered/s per second: ${r.samples.map((s) => s.deliveredPerSec).join(" ")}`,
    );
  }
  console.log(
    "\n| client | delivered msgs/s (avg, window) | peak RSS MB (whole run) | window min–max MB | drift 2nd half vs 1st MB (window) | heapUsed MB (last) | errors | load |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const r of results) {
    console.log(
      `| ${r.label} | ${fmt(r.deliveredPerSec)} | ${r.peakMB} | ${r.settledMinMB}–${r.settledMaxMB} | ${r.driftMB.toFixed(1)} | ${r.samples.at(-1)?.heapUsedMB} | ${r.errors} | ${r.load} |`,
    );
  }
  for (const r of results.filter((result) => result.impl === "catga-user" || result.impl === "catga")) {
    const flat = Math.abs(r.driftMB) <= 5;
    console.log(
      `\nbar: ${r.label} RSS ≤ 150 MB and flat at ${fmt(RSS_RATE)} msgs/s → peak ${r.peakMB} MB, drift ${r.driftMB.toFixed(1)} MB over the ${RSS_S}s window, ` +
        `${fmt(r.deliveredPerSec)} msgs/s delivered: ${r.peakMB <= 150 && flat && r.deliveredPerSec >= RSS_RATE * 0.95 ? "MET" : "MISSED"}`,
    );
  }
  console.log("");
  return results;
}
