// The fixed names Catga's telemetry is reported under (see docs/architecture/observability.md).

/** Name and version of the instrumentation scope. */
export const INSTRUMENTATION_SCOPE = "@catga/native";
export const SCOPE_VERSION = "0.1.0";

/** Metric names (fixed; see docs/architecture/observability.md). */
export const MetricNames = Object.freeze({
  requestsTotal: "catga.requests.total",
  requestsDuration: "catga.requests.duration",
  requestsActive: "catga.requests.active",
  requestsFailed: "catga.requests.failed",
  handlerExecutions: "catga.handler.executions",
  handlerDuration: "catga.handler.duration",
  transportSent: "catga.transport.messages.sent",
  transportReceived: "catga.transport.messages.received",
  transportBatchSize: "catga.transport.batch.size",
  transportCompressionRatio: "catga.transport.compression.ratio",
  transportBytesSent: "catga.transport.bytes.sent",
  transportBytesUncompressed: "catga.transport.bytes.uncompressed",
  transportFramesSent: "catga.transport.frames.sent",
  transportFramesReceived: "catga.transport.frames.received",
  transportFramesDropped: "catga.transport.frames.dropped",
  transportReconnects: "catga.transport.reconnects",
  transportBackpressureWaits: "catga.transport.backpressure.waits",
  transportBackpressureRejections: "catga.transport.backpressure.rejections",
  transportMalformed: "catga.transport.malformed.received",
  transportRequestFailures: "catga.transport.request.failures",
  outboxPending: "catga.outbox.pending",
  outboxRelayed: "catga.outbox.relayed",
  outboxLag: "catga.outbox.lag",
  inboxProcessed: "catga.inbox.processed",
  persistenceLatency: "catga.persistence.latency",
  sagaStarted: "catga.saga.started",
  sagaCompleted: "catga.saga.completed",
  sagaCompensated: "catga.saga.compensated",
  sagaFailed: "catga.saga.failed",
  sagaDuration: "catga.saga.duration",
  sagaActive: "catga.saga.active",
  sagaStateLarge: "catga.saga.state.large",
  deadLetters: "catga.deadletters",
  retries: "catga.retries",
  breakerTransitions: "catga.breaker.transitions",
  jetstreamRedeliveries: "catga.jetstream.redeliveries",
  jetstreamAckLatency: "catga.jetstream.ack.latency",
  jetstreamConsumerPending: "catga.jetstream.consumer.pending",
  jetstreamConsumerAckPending: "catga.jetstream.consumer.ack_pending",
  clusterMembersActive: "catga.cluster.members.active",
  clusterLeaderElections: "catga.cluster.leader.elections",
  clusterRebalances: "catga.cluster.rebalances",
  clusterShardMoves: "catga.cluster.shard.moves",
});

/** Attribute keys used on spans and metrics. */
export const Attr = Object.freeze({
  system: "messaging.system",
  destination: "messaging.destination.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageId: "messaging.message.id",
  conversationId: "messaging.message.conversation_id",
  /**
   * Inbound handler spans: the size of the transport batch the message came in (> 1). Not
   * `messaging.batch.message_count`, which OTel reserves for spans covering a whole batch.
   */
  batchSize: "catga.batch.size",
  type: "catga.message.type",
  kind: "catga.message.kind",
  correlationId: "catga.correlation_id",
  causationId: "catga.causation_id",
  handler: "catga.handler",
  outcome: "catga.outcome",
  errorCode: "catga.error.code",
  errorType: "error.type",
  /** The saga's name (`defineSaga(name)`), on saga spans and metrics. */
  saga: "catga.saga",
  sagaId: "catga.saga.id",
  sagaStep: "catga.saga.step",
  /** `step` or `compensation`. */
  sagaOperation: "catga.saga.operation",
  /** A compensation's attempt (1, 2…). */
  sagaAttempt: "catga.saga.attempt",
  /** On `catga.saga.duration`: completed, compensated or failed. */
  sagaStatus: "catga.saga.status",
  /** `catga.breaker.transitions`: the breaker's key (the message type unless configured). */
  breakerKey: "catga.breaker.key",
  /** `catga.breaker.transitions`: the state left and the state entered. */
  breakerFrom: "catga.breaker.from",
  breakerTo: "catga.breaker.to",
  /** `catga.jetstream.*`: the stream and the durable consumer. */
  stream: "catga.jetstream.stream",
  consumer: "catga.jetstream.consumer",
  /** `catga.jetstream.ack.latency`: what was decided (ack, nak, dlq, term). */
  ackAction: "catga.jetstream.action",
  /** On a saga's root span: false when the start found the instance existing (a repeated start). */
  sagaCreated: "catga.saga.created",
  /** On `catga.saga.state.large`: `warning` (past stateWarningBytes, stored) or `max` (refused). */
  sagaStateLimit: "catga.saga.state.limit",
});
