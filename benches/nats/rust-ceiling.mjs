// Phase "rust" of the NATS bench: the async-nats ceiling in Rust alone
// (crates/catga-core/examples/nats_pubsub_baseline.rs, one process, publisher and subscriber on
// separate connections): plain (one NATS message per envelope, as a Rust user of async-nats
// would), framed (CTG1 frames of ~16 KiB, what the Catga engine sends) and framed-raw. Skipped,
// with the build command printed, when the release binary is missing.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { children } from "./children.mjs";
import { NATS_PORT } from "./common.mjs";
import { fmt } from "./format.mjs";
import { load } from "./machine.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function rustBaseline(mode, warmS, runS) {
  const binary = join(root, "target", "release", "examples", "nats_pubsub_baseline");
  if (!existsSync(binary)) return undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(
      binary,
      ["--mode", mode, "--warm", String(warmS), "--secs", String(runS), "--port", String(NATS_PORT)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.set(child.pid, child);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), (warmS + runS + 20) * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      children.delete(child.pid);
      const line = out.trim().split("\n").at(-1);
      if (code === 0 && line) resolve({ ...JSON.parse(line), load: load() });
      else reject(new Error(`nats_pubsub_baseline --mode ${mode} exited ${code}: ${out}`));
    });
  });
}

/**
 * Runs the three modes and prints them, then each of `rates` (median events msgs/s of the JS rows,
 * `{ label, msgsPerSec, bar }`) as a share of each mode; `bar` marks the one judged against ≥ 50 %.
 */
export async function runRustPhase({ warmS, runS }, rates) {
  console.log("## Rust async-nats ceiling (one process, publisher and subscriber on separate connections)\n");
  const rows = [];
  for (const mode of ["plain", "framed", "framed-raw"]) {
    try {
      const r = await rustBaseline(mode, warmS, runS);
      if (!r) {
        console.log(
          "(skipped: build it with `cargo build --release -p catga-core --example nats_pubsub_baseline`)\n",
        );
        break;
      }
      rows.push(r);
    } catch (error) {
      console.error(String(error));
    }
  }
  if (rows.length === 0) return rows;
  console.log("| mode | delivered msgs/s | published msgs/s | load |");
  console.log("| --- | ---: | ---: | --- |");
  for (const r of rows)
    console.log(`| ${r.mode} | ${fmt(r.msgs_per_sec)} | ${fmt(r.published_per_sec)} | ${r.load} |`);
  for (const { label, msgsPerSec, bar } of rates) {
    for (const r of rows) {
      const share = msgsPerSec / r.msgs_per_sec;
      const verdict = bar ? `: ${share >= 0.5 ? "MET" : "MISSED"} (bar: ≥ 50%)` : "";
      console.log(`\n${label} events = ${(share * 100).toFixed(0)}% of Rust ${r.mode}${verdict}`);
    }
  }
  console.log("");
  return rows;
}
