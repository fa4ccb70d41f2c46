/**
 * `@catga/native/testing`: a mediator that records what it sent and published, for unit tests.
 *
 * @module @catga/native/testing
 */
export type { Clock } from "../mediator/clock.js";
export { VirtualClock } from "../mediator/clock.js";
export type { RecordedMessage } from "../mediator/testing.js";
export { createTestCatga, TestCatga } from "../mediator/testing.js";
