//! The NATS engine: async-nats on tokio. It moves bytes only: outbound envelopes are framed per
//! subject (`CTG1`, zstd above the threshold) and published; inbound messages are unframed,
//! checked, and grouped into one [`InboundBatch`] per wake-up so the JS side is called once per
//! batch. Requests, replies and backpressure live here; meaning (types, handlers) stays in TS.
//!
//! Modules, one concern each:
//!
//! - `engine`: the [`NatsEngine`] handle, with `connect`, `admission` (bounds and
//!   [`BackpressurePolicy`]), `publish` and `request` as its children.
//! - `options`: [`NatsOptions`] and their validation.
//! - `events`: [`ConnectionEvent`]s reported to the host.
//! - `inbound`: subscriptions delivering [`InboundBatch`]es.
//! - [`batch_buffers`]: recycled inbound batch buffers.
//! - `request_batch`: how a batch of requests travels ([`plan_requests`]).
//! - `request_frames`: the framed request/reply wire protocol and its reply router.
//! - `errors`: async-nats failures as coded errors, keeping the cause.
//! - `permissions`: publishes and subscriptions the server refused, for the calls waiting on them.
//! - `stats`: the engine counters ([`StatsSnapshot`]).
//! - [`jetstream`]: streams, durable publishes and pull consumers.
//! - `durable_publish`: durable publishes, each settled by the call's deadline (re-exported by
//!   [`jetstream`]).
//! - `durable_retry`: which failed durable publish attempts are re-sent, and how often.
//! - `dead_letter`: the headers a dead letter carries.
//! - [`kv`]: KV buckets.

pub mod batch_buffers;
mod dead_letter;
mod durable_publish;
mod durable_retry;
mod engine;
mod errors;
mod events;
pub mod held;
mod inbound;
// Documented in the JetStream follow-up: jetstream.rs is being changed in parallel (issue 15).
#[allow(missing_docs)]
pub mod jetstream;
pub mod kv;
mod options;
mod permissions;
mod request_batch;
mod request_frames;
mod stats;

pub use engine::{NatsEngine, PublishMode, PublishOutcome};
pub use events::{ConnectionEvent, EventSink};
pub use inbound::{InboundBatch, InboundSubscription};
pub use options::{BackpressurePolicy, NatsOptions, TlsOptions};
pub use request_batch::{plan_requests, BatchRequest, Completion, RequestJob};
pub use stats::StatsSnapshot;
