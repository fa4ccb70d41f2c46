export type { ClusterMembersOptions, ObservedMember } from "./cluster-members.js";
export { clusterMembers } from "./cluster-members.js";
export type { ConsumerLag, JetStreamConsumers } from "./consumers.js";
export { jetstreamConsumers } from "./consumers.js";
export type { DeadLetter, DeadLetterKind, DeadLetterSummary } from "./dead-letter.js";
export { DEAD_LETTER_HEADERS } from "./dead-letter.js";
export type {
  BulkOptions,
  DeadLetterCounts,
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetterProgress,
  DeadLetterSelector,
  DeadLetters,
  DeadLettersOptions,
  ReplayFailure,
  ReplayReport,
} from "./dead-letters.js";
export { deadLetters } from "./dead-letters.js";
export type { InboxRow, InboxStatus, InboxStatusOptions } from "./inbox.js";
export { inboxStatus } from "./inbox.js";
export type { OutboxBacklog, OutboxBacklogOptions, OutboxRow } from "./outbox.js";
export { outboxBacklog } from "./outbox.js";
export type { SagaCount, SagaStoreLocation } from "./sagas.js";
export { listSagaInstances, sagaCounts } from "./sagas.js";
