//! The NATS engine: async-nats on tokio. It moves bytes only: outbound envelopes are framed per
//! subject (`CTG1`, zstd above the threshold) and published; inbound messages are unframed,
//! checked, and grouped into one [`InboundBatch`] per wake-up so the JS side is called once per
//! batch. Requests, replies and backpressure live here; meaning (types, handlers) stays in TS.

pub mod batch_buffers;
mod engine;
mod errors;
mod events;
mod inbound;
pub mod jetstream;
pub mod kv;
mod options;
mod request_batch;
mod request_frames;
mod stats;

pub use engine::NatsEngine;
pub use events::{ConnectionEvent, EventSink};
pub use inbound::{InboundBatch, InboundSubscription};
pub use options::{BackpressurePolicy, NatsOptions, TlsOptions};
pub use request_batch::{plan_requests, BatchRequest, Completion, RequestJob};
pub use stats::StatsSnapshot;
