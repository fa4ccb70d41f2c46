//! Catga wire core: the bytes side of `@catga/native`.
//!
//! Pure Rust with no N-API types: the binding crate (`catga-napi`) converts JS values into these
//! types and maps [`CatgaError`] to JS errors. TypeScript owns meaning (contracts, handlers,
//! policies); this crate owns framing, compression, limits, hashing and NATS I/O.
//!
//! # Modules
//!
//! - [`envelope`]: the message envelope (a MessagePack array) and its codec.
//! - [`frame`]: the `CTG1` batch frame, zstd-compressed when that pays.
//! - [`limits`]: the size and count caps checked before any allocation.
//! - [`error`]: [`CatgaError`] and the stable [`ErrorCode`]s shared with TypeScript.
//! - [`ring`]: the consistent-hash ring for sharding keys across nodes.
//! - [`nats`]: the NATS engine, described below.
//!
//! # The NATS engine
//!
//! [`nats::NatsEngine`] runs async-nats on the addon's tokio runtime (one worker thread unless
//! `CATGA_TOKIO_WORKERS` says otherwise) and moves bytes only; the host is called once per
//! batch, never per message.
//!
//! - **Batching.** Published events arrive as one batch per call and leave framed per subject,
//!   in `CTG1` frames of about `event_frame_bytes`, zstd above the threshold. Inbound messages
//!   are unframed, checked against [`Limits`] and grouped into one [`nats::InboundBatch`] per
//!   wake-up.
//! - **Request frames.** Requests to one subject that start together travel as one frame with
//!   one reply subject, and their replies come back as one positional frame: two NATS messages
//!   per group instead of two per request ([`nats::plan_requests`]). `requests_per_frame` 1
//!   sends every request on its own, for responders that are not Catga.
//! - **Backpressure.** Requests in flight and bytes pending are bounded. At a bound the
//!   [`nats::BackpressurePolicy`] waits for room or fails with `CATGA_BACKPRESSURE`;
//!   `when_disconnected` does the same while the connection is down (`CATGA_NOT_CONNECTED`).
//!   A waiting request still ends at its timeout.
//! - **JetStream.** Stream provisioning, durable publishes with one outcome per message, and
//!   pull consumers whose batches the host settles with ack, nak-with-delay or dead-letter
//!   ([`nats::jetstream`]); KV buckets for inbox and idempotency stores ([`nats::kv`]); NATS
//!   service discovery for cluster membership ([`nats::service`]).
//!
//! # Guarantees
//!
//! Every decode path returns [`CatgaError`] on bad input; none panics and none allocates a
//! buffer sized by an untrusted length field without first checking it against [`Limits`].
//! Failures from async-nats keep the original error as the [`CatgaError`]'s source.

#![warn(missing_docs)]

pub mod envelope;
pub mod error;
pub mod frame;
pub mod limits;
pub mod nats;
pub mod ring;

pub use envelope::{decode_envelope, encode_envelope, Envelope, MessageKind, ENVELOPE_VERSION};
pub use error::{CatgaError, ErrorCode};
pub use frame::{
    decode_frame, encode_frame, split_into_frames, DecodedFrame, FrameCut, FrameOptions, FRAME_MAGIC, FRAME_VERSION,
};
pub use limits::Limits;
pub use ring::HashRing;
