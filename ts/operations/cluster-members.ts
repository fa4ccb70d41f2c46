/**
 * The instances of every service on a prefix, as their heartbeats announce them: what
 * `catga cluster members` prints. It listens without joining (no heartbeat of its own, so no
 * instance sees a newcomer), for long enough to hear everyone once.
 */
import { checkArgument, describe, integer, nonEmptyString } from "../checks.js";
import { heartbeatSubjects, type Member, readHeartbeat } from "../cluster/membership.js";
import { CatgaError, ErrorCodes } from "../errors.js";
import { NatsConnection } from "../nats/connection.js";
import { EnvelopeCodec } from "../nats/wire.js";
import { NatsTransport } from "../transport/nats-transport.js";
import { subjectPrefix } from "../transport/options.js";

/** Options of {@link clusterMembers}. */
export interface ClusterMembersOptions {
  /**
   * The transports' subject prefix (taken from a `NatsTransport` given as source).
   * @default "catga"
   */
  readonly prefix?: string;
  /**
   * How long to listen, in ms: at least the longest heartbeat interval in use (each instance
   * announces itself once per interval), or instances are missed.
   * @default 2500 (the default heartbeat is 2000)
   */
  readonly waitMs?: number;
  /** Only this service's instances. */
  readonly service?: string;
}

/** An instance heard from while listening. */
export type ObservedMember = Omit<Member, "self">;

/**
 * Lists the cluster members heard within `waitMs`, sorted by service then instance id; instances
 * that said goodbye meanwhile are left out. A NATS transport's prefix is its own; a connection
 * takes `options.prefix`.
 */
export async function clusterMembers(
  source: NatsTransport | NatsConnection,
  options: ClusterMembersOptions = {},
): Promise<ObservedMember[]> {
  checkArgument("options.prefix", options.prefix, subjectPrefix);
  checkArgument("options.waitMs", options.waitMs, integer(1, 600_000));
  checkArgument("options.service", options.service, nonEmptyString);
  let connection: NatsConnection;
  let prefix = options.prefix ?? "catga";
  if (source instanceof NatsTransport) {
    connection = source.connection;
    prefix = source.prefix;
  } else if (source instanceof NatsConnection) connection = source;
  else
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `source must be a NatsTransport or a NatsConnection, got ${describe(source)}`,
      { details: { field: "source" } },
    );
  const codec = new EnvelopeCodec();
  const heard = new Map<string, ObservedMember>();
  const stop = await connection.subscribe(heartbeatSubjects(prefix), {}, async (batch) => {
    for (const bytes of batch.envelopes) {
      const beat = readHeartbeat(codec, bytes);
      if (beat === undefined) continue;
      if (options.service !== undefined && beat.member.service !== options.service) continue;
      const { self: _, ...member } = beat.member;
      if (beat.leaving) heard.delete(member.instanceId);
      else heard.set(member.instanceId, member);
    }
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, options.waitMs ?? 2500));
  } finally {
    await stop();
  }
  return [...heard.values()].sort(
    (a, b) => a.service.localeCompare(b.service) || a.instanceId.localeCompare(b.instanceId),
  );
}
