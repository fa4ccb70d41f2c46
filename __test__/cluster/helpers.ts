import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, type ClusterOptions, cluster } from "../../ts/entries/cluster.js";
import { type NatsTransport, type NatsTransportOptions, natsTransport } from "../../ts/entries/nats.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";

export { NATS_URL };

/** One test file's cluster: its own subject prefix and KV bucket, so files never see each other. */
export class TestCluster {
  readonly prefix = uniquePrefix("cl");
  readonly bucket = this.prefix.replaceAll(".", "_");
  private readonly transports: NatsTransport[] = [];
  private readonly clusters: Cluster[] = [];

  /** Connects a transport on this file's prefix (closed by `close()`). */
  async transport(service = "svc", options: Partial<NatsTransportOptions> = {}): Promise<NatsTransport> {
    const transport = await natsTransport({ servers: NATS_URL, service, prefix: this.prefix, ...options });
    this.transports.push(transport);
    return transport;
  }

  /** Connects a transport and joins it to the cluster. */
  async join(options: ClusterOptions = {}): Promise<Cluster> {
    const transport = await this.transport(options.service);
    const member = await cluster(transport, { bucket: this.bucket, heartbeatMs: 200, ...options });
    this.clusters.push(member);
    return member;
  }

  /** Closes every cluster and transport, then deletes the bucket. */
  async close(): Promise<void> {
    await Promise.all(this.clusters.map((c) => c.close().catch(() => undefined)));
    const [first] = this.transports;
    await first?.connection.native.deleteStream(`KV_${this.bucket}`).catch(() => undefined);
    await Promise.all(this.transports.map((t) => t.close().catch(() => undefined)));
  }
}

/** Resolves with the first arguments of `event`, or rejects after `timeoutMs`. */
export function next<T extends unknown[]>(
  emitter: { once(event: string, listener: (...args: T) => void): unknown },
  event: string,
  timeoutMs = 10_000,
): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs);
  return once(emitter as never, event, { signal }) as Promise<T>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 10 ms until true, or fails naming `what`. */
export async function until(check: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** One handler run as a shard worker logged it (shard-child.mjs); times on the machine's monotonic clock. */
export interface ShardRun {
  readonly key: string;
  readonly n: number;
  readonly instance: string;
  readonly start: number;
  readonly end: number;
}

/** Every run logged by the shard workers into `dir` (one file per worker). */
export function readShardRuns(dir: string): ShardRun[] {
  return readdirSync(dir).flatMap((file) =>
    readFileSync(join(dir, file), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const [key, n, instance, start, end] = line.split(" ");
        return { key: key!, n: Number(n), instance: instance!, start: Number(start), end: Number(end) };
      }),
  );
}

/** Each pair of runs of one key that overlap in time, on one instance or across them (empty: none). */
export function shardOverlaps(runs: readonly ShardRun[]): string[] {
  const byKey = new Map<string, ShardRun[]>();
  for (const run of runs) {
    const list = byKey.get(run.key);
    if (list === undefined) byKey.set(run.key, [run]);
    else list.push(run);
  }
  const overlaps: string[] = [];
  for (const list of byKey.values()) {
    list.sort((a, b) => a.start - b.start);
    // Sorted by start, a run overlaps an earlier one iff it starts before the latest end so far.
    let latest = list[0]!;
    for (const run of list.slice(1)) {
      if (run.start < latest.end)
        overlaps.push(`${run.key}: #${latest.n} on ${latest.instance} and #${run.n} on ${run.instance}`);
      if (run.end > latest.end) latest = run;
    }
  }
  return overlaps;
}
