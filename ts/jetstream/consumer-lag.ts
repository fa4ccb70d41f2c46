/**
 * How far behind each durable consumer of some streams is, read through the JetStream API
 * (`$JS.API.CONSUMER.LIST.<stream>`, one request per stream and page): for the
 * `catga.jetstream.consumer.*` gauges, read at metric collection, never on a hot path.
 */
import { CatgaError, ErrorCodes } from "../errors.js";
import type { NatsConnection } from "../nats/connection.js";

/** One durable consumer's backlog. */
export interface ConsumerLag {
  readonly stream: string;
  readonly consumer: string;
  /** Messages in the stream the consumer has not been delivered yet. */
  readonly pending: number;
  /** Messages delivered and not acknowledged yet (in a handler, or lost with a crashed one). */
  readonly ackPending: number;
  /** Messages delivered more than once that are not acknowledged yet. */
  readonly redelivered: number;
}

interface ConsumerInfo {
  readonly name: string;
  readonly num_pending?: number;
  readonly num_ack_pending?: number;
  readonly num_redelivered?: number;
}

interface ListReply {
  readonly consumers?: readonly ConsumerInfo[];
  readonly total?: number;
  readonly limit?: number;
  readonly error?: { readonly err_code?: number; readonly description?: string };
}

/** JSStreamNotFoundErr: a stream not made yet has no consumers (not an error for a gauge). */
const STREAM_NOT_FOUND = 10059;

/**
 * The consumers of `streams` with their backlog, one stream after another (requests sent in one
 * tick to one subject would travel as one Catga frame, which the JetStream API does not read).
 */
export async function consumerLag(
  connection: NatsConnection,
  streams: readonly string[],
  timeoutMs = 5000,
): Promise<ConsumerLag[]> {
  const out: ConsumerLag[] = [];
  for (const stream of streams) {
    for (let offset = 0; ; ) {
      const bytes = await connection.request(
        `$JS.API.CONSUMER.LIST.${stream}`,
        Buffer.from(JSON.stringify({ offset })),
        timeoutMs,
      );
      const reply = JSON.parse(bytes.toString("utf8")) as ListReply;
      if (reply.error?.err_code === STREAM_NOT_FOUND) break;
      if (reply.error !== undefined)
        throw new CatgaError(
          ErrorCodes.TRANSPORT,
          `JetStream CONSUMER.LIST: ${reply.error.description ?? "failed"}`,
          {
            details: { stream, code: reply.error.err_code ?? null },
          },
        );
      const page = reply.consumers ?? [];
      for (const info of page)
        out.push({
          stream,
          consumer: info.name,
          pending: info.num_pending ?? 0,
          ackPending: info.num_ack_pending ?? 0,
          redelivered: info.num_redelivered ?? 0,
        });
      offset += page.length;
      if (page.length === 0 || offset >= (reply.total ?? 0)) break;
    }
  }
  return out;
}
