//! Connection and engine options. The TS layer validates user input field by field (one
//! `CatgaConfigError` listing all issues); [`NatsOptions::validate`] is the safety net here.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{CatgaError, Result};
use crate::frame::FrameOptions;

/// What happens when a bound is reached (requests in flight, bytes pending) or the connection
/// is down: wait for room, or fail at once with a coded error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackpressurePolicy {
    /// Wait for room (or for the reconnect); requests still end at their timeout.
    #[default]
    Wait,
    /// Fail at once with `CATGA_BACKPRESSURE` (or `CATGA_NOT_CONNECTED` while disconnected).
    Reject,
}

/// TLS settings of a connection; all off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Refuse to connect without TLS.
    pub required: bool,
    /// PEM file of extra root certificates to trust.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (with `key_file`) for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// Everything the engine needs to connect and how it bounds its work. Defaults match the TS
/// `NatsConnectionOptions` docs.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsOptions {
    /// Server URLs, tried in turn (`nats://127.0.0.1:4222` by default).
    pub servers: Vec<String>,
    /// Connection name shown by the server.
    pub name: Option<String>,
    /// User name; set together with `password`.
    pub user: Option<String>,
    /// Password of `user`.
    pub password: Option<String>,
    /// Authentication token.
    pub token: Option<String>,
    /// NKey seed (starts with `SU`).
    pub nkey_seed: Option<String>,
    /// `.creds` file (JWT and NKey).
    pub credentials_file: Option<PathBuf>,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Reconnect attempts before giving up; `None` retries forever.
    pub max_reconnects: Option<usize>,
    /// First reconnect delay; doubles per attempt, with jitter, up to `reconnect_delay_max`.
    pub reconnect_delay_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_delay_max: Duration,
    /// How often the client pings the server to detect a dead connection.
    pub ping_interval: Duration,
    /// How long one connect attempt may take.
    pub connect_timeout: Duration,
    /// Default request timeout; also bounds flush, drain and close.
    pub request_timeout: Duration,
    /// Deadline of a durable (JetStream) publish call, admission, sends, retries and acks
    /// included: long enough to ride out a stream-leader election (see `DURABLE_PUBLISH_TIMEOUT`).
    pub durable_publish_timeout: Duration,
    /// Requests awaiting a reply at once; past it `backpressure` applies.
    pub max_in_flight_requests: usize,
    /// Bytes accepted for publishing and not yet taken by the client; past it `backpressure` applies.
    pub max_pending_bytes: usize,
    /// What happens when `max_in_flight_requests` or `max_pending_bytes` is reached.
    pub backpressure: BackpressurePolicy,
    /// While disconnected: `Wait` lets async-nats buffer until reconnect (bounded by the request
    /// timeout); `Reject` fails at once with `CATGA_NOT_CONNECTED`.
    pub when_disconnected: BackpressurePolicy,
    /// Do not deliver this connection's own publishes to its own subscriptions.
    pub no_echo: bool,
    /// How outbound frames are built (compression, limits) and inbound ones checked.
    pub frame: FrameOptions,
    /// Most envelopes handed to JS in one inbound batch.
    pub inbound_batch_max: usize,
    /// NATS messages async-nats queues per subscription before the engine takes them (the
    /// engine takes them continuously, also while JS is busy, so this only fills when the
    /// runtime is starved). Past it async-nats drops them with a `slowConsumer` event.
    pub subscription_capacity: usize,
    /// Bytes of NATS messages held per subscription while JS handles the previous batch. Past
    /// it this client drops the newest messages and counts them (core NATS is at-most-once; use
    /// JetStream for more); bytes, not a count, so single envelopes and full frames are held
    /// alike.
    pub subscription_buffer_bytes: usize,
    /// Requests to one subject that start together travel as frames of at most this many
    /// (see `request_frames`); 1 sends every request as its own NATS message (for responders
    /// that are not Catga).
    pub requests_per_frame: usize,
    /// Event frames are cut at about this many bytes (before compression): one batch from JS
    /// goes out as several frames, because nats-server moves 10–20 KiB messages for less CPU
    /// per byte than 300 KiB ones (benches/RESULTS.md).
    pub event_frame_bytes: usize,
}

/// Default deadline of a durable publish: 15 s. Killing the stream leader of an R3 stream on a
/// 3-node cluster (nats-server 2.9, `__test__/jetstream/cluster-failover.test.ts`) left publishes
/// without an ack for 4.3-6.8 s while a new leader was elected; with the 5 s request timeout as
/// their deadline, re-sends included, one publish failed in each of 3 runs (docs/architecture/jetstream.md,
/// "Stream-leader failover"). 15 s is more than twice the longest stall measured.
pub const DURABLE_PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);

impl Default for NatsOptions {
    fn default() -> Self {
        Self {
            servers: vec!["nats://127.0.0.1:4222".into()],
            name: None,
            user: None,
            password: None,
            token: None,
            nkey_seed: None,
            credentials_file: None,
            tls: TlsOptions::default(),
            max_reconnects: None,
            reconnect_delay_initial: Duration::from_millis(100),
            reconnect_delay_max: Duration::from_secs(5),
            ping_interval: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            durable_publish_timeout: DURABLE_PUBLISH_TIMEOUT,
            max_in_flight_requests: 4096,
            max_pending_bytes: 64 * 1024 * 1024,
            backpressure: BackpressurePolicy::Wait,
            when_disconnected: BackpressurePolicy::Wait,
            no_echo: true,
            frame: FrameOptions::default(),
            // 4096: subscriber CPU per message 0.47 → 0.41 µs vs 1024 (benches/RESULTS.md).
            inbound_batch_max: 4096,
            subscription_capacity: 1024,
            subscription_buffer_bytes: 64 * 1024 * 1024,
            requests_per_frame: 64,
            event_frame_bytes: 16 * 1024,
        }
    }
}

impl NatsOptions {
    /// Checks every field the engine relies on, naming the first bad one by its JS name.
    pub fn validate(&self) -> Result<()> {
        if self.servers.is_empty() || self.servers.iter().any(|s| s.trim().is_empty()) {
            return Err(CatgaError::invalid_argument("servers", "must list at least one non-empty server URL"));
        }
        if self.user.is_some() != self.password.is_some() {
            return Err(CatgaError::invalid_argument("user", "user and pass must be given together"));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(CatgaError::invalid_argument("tls.certFile", "certFile and keyFile must be given together"));
        }
        for (field, value) in [
            ("maxInFlightRequests", self.max_in_flight_requests),
            ("maxPendingBytes", self.max_pending_bytes),
            ("inboundBatchMax", self.inbound_batch_max),
            ("subscriptionCapacity", self.subscription_capacity),
            ("subscriptionBufferBytes", self.subscription_buffer_bytes),
            ("requestsPerFrame", self.requests_per_frame),
            ("eventFrameBytes", self.event_frame_bytes),
        ] {
            if value == 0 {
                return Err(CatgaError::invalid_argument(field, "must be greater than 0"));
            }
        }
        // A zero period panics inside async-nats' ping timer (tokio interval) on the runtime thread.
        for (field, value) in [
            ("pingIntervalMs", self.ping_interval),
            ("connectTimeoutMs", self.connect_timeout),
            ("requestTimeoutMs", self.request_timeout),
            ("durablePublishTimeoutMs", self.durable_publish_timeout),
        ] {
            if value.is_zero() {
                return Err(CatgaError::invalid_argument(field, "must be greater than 0"));
            }
        }
        if self.max_in_flight_requests > tokio::sync::Semaphore::MAX_PERMITS
            || self.max_pending_bytes > u32::MAX as usize
        {
            return Err(CatgaError::invalid_argument("maxPendingBytes", "must fit in 32 bits"));
        }
        self.frame.validate()
    }
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
