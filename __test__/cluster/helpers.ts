import { once } from "node:events";
import { type Cluster, type ClusterOptions, cluster } from "../../ts/entries/cluster.js";
import { type NatsTransport, natsTransport } from "../../ts/entries/nats.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";

export { NATS_URL };

/** One test file's cluster: its own subject prefix and KV bucket, so files never see each other. */
export class TestCluster {
  readonly prefix = uniquePrefix("cl");
  readonly bucket = this.prefix.replaceAll(".", "_");
  private readonly transports: NatsTransport[] = [];
  private readonly clusters: Cluster[] = [];

  /** Connects a transport on this file's prefix (closed by `close()`). */
  async transport(service = "svc"): Promise<NatsTransport> {
    const transport = await natsTransport({ servers: NATS_URL, service, prefix: this.prefix });
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
