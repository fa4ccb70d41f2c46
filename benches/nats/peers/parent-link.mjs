// Child side of the parent/child protocol for the peers in this folder: answers `mark` with the
// peer's counters, hrtime and process.cpuUsage() taken here (so rates and CPU are measured where
// the work happens), reports the event count every 5 ms in `events` mode (the parent's flow
// control), and on `stop` closes the peer (2 s at most) and exits. Exits when the parent goes away.

import { guardChild } from "../common.mjs";

/**
 * @param {"events" | "rr"} mode
 * @param {() => { count: number, served: number }} counters events handled, requests answered
 * @param {() => Promise<unknown>} stop closes the peer's connections
 */
export function linkToParent(mode, counters, stop) {
  const reporter =
    mode === "events" ? setInterval(() => process.send?.({ type: "count", count: counters().count }), 5) : 0;
  process.on("message", async (message) => {
    if (message?.type === "mark") {
      process.send?.({
        type: "mark",
        id: message.id,
        ...counters(),
        ns: process.hrtime.bigint().toString(),
        cpu: process.cpuUsage(),
      });
    } else if (message?.type === "stop") {
      clearInterval(reporter);
      await Promise.race([stop().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      process.send?.({ type: "stopped", ...counters(), cpu: process.cpuUsage() });
      process.exit(0);
    }
  });
  process.send?.({ type: "ready" });
}

/**
 * Call first in every peer: installs exit-on-disconnect and error reporting, and returns the
 * peer's arguments `<events|rr> <tag>`.
 */
export function startPeer() {
  guardChild();
  const [mode, tag] = process.argv.slice(2);
  if (mode !== "events" && mode !== "rr") throw new Error(`mode must be events or rr, got ${mode}`);
  if (!tag) throw new Error("missing tag");
  return { mode, tag };
}
