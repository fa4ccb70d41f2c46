// What else the machine was doing during a measured window: load average, nats-server CPU and
// whole-machine busy %, read from /proc (Linux; blank elsewhere), so each result shows how much
// of the cores went to the server and how much to other work on the box.

import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { NATS_PORT } from "./common.mjs";

export const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/** The nats-server process serving NATS_PORT (other nats-servers may run on the box for tests). */
function findServerPid() {
  const candidates = [];
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "nats-server") continue;
        const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
        const at = args.findIndex((a) => a === "-p" || a === "--port");
        const port = at >= 0 ? Number(args[at + 1]) : 4222;
        if (port === NATS_PORT) candidates.push(Number(entry));
      } catch {}
    }
  } catch {}
  return candidates.sort((a, b) => a - b)[0];
}
const serverPid = findServerPid();

export function cpuSnapshot() {
  const snap = { at: performance.now(), server: undefined, busy: undefined };
  try {
    if (serverPid) {
      const fields = readFileSync(`/proc/${serverPid}/stat`, "utf8").split(") ")[1].split(" ");
      snap.server = (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks (100 Hz) -> ms
    }
  } catch {}
  try {
    const all = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = all[3] + (all[4] ?? 0);
    snap.busy = { total: all.reduce((a, b) => a + b, 0), idle };
  } catch {}
  return snap;
}

/** nats-server CPU ms and machine busy % (of all cores) between two snapshots. */
export function cpuWindow(a, b) {
  const server = a.server === undefined || b.server === undefined ? "" : String(b.server - a.server);
  let busy = "";
  if (a.busy && b.busy) {
    const total = b.busy.total - a.busy.total;
    busy = `${Math.round((100 * (total - (b.busy.idle - a.busy.idle))) / Math.max(1, total))}%`;
  }
  return { serverCpuMs: server, machineBusy: busy };
}
