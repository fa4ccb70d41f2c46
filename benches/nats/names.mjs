// Names one run of one implementation uses on the shared server: every subject, prefix and
// namespace carries a tag made of the bench's PID and a run number, so concurrent benches (and
// leftovers of an earlier run) never cross. Both sides of a run derive their names from here.

/** Event type (Catga contract, moleculer event) and request type (Catga command, moleculer action). */
export const EVENT_TYPE = "bench.event";
export const ECHO_TYPE = "bench.echo";
/** Moleculer service name in the peer. */
export const MOLECULER_SERVICE = "bench";

let runs = 0;
/** A fresh tag for one run, from the bench process: `<pid>_<n>`. */
export const nextTag = () => `${process.pid}_${++runs}`;

/** A subject for raw clients (nats.js, NestJS patterns, engine rows): `bench.<tag>.<impl>.<what>`. */
export const subjectOf = (tag, impl, what) => `bench.${tag}.${impl}.${what}`;
/** Catga transport prefix: subjects become `bench.<tag>.catga.evt.bench.event` and `….cmd.bench.echo`. */
export const catgaPrefix = (tag) => `bench.${tag}.catga`;
/** Moleculer namespace: subjects become `MOL-bench-<tag>.…`. */
export const moleculerNamespace = (tag) => `bench-${tag}`;
