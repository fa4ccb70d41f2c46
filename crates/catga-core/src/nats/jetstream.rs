//! JetStream: streams provisioned from config, and durable pull consumers fetched in batches
//! whose messages are acked, nak'ed with a delay, or moved to a dead-letter subject as the host
//! decides. Durable publishes live in `durable_publish.rs` and are re-exported here.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::{BatchConfig, Config as PullConfig};
use async_nats::jetstream::consumer::{AckPolicy, Consumer, DeliverPolicy};
use async_nats::jetstream::stream::{Config as StreamConfig, RetentionPolicy, StorageType};
/// The JetStream context of an engine connection (async-nats'), for callers of this module.
pub use async_nats::jetstream::Context;
use async_nats::jetstream::ErrorCode as JsErrorCode;
use async_nats::jetstream::{AckKind, Message};
use async_nats::{connection::State, StatusCode, Subject, Subscriber};
use futures_util::StreamExt;

use super::dead_letter::{dead_letter_headers, DeadLetterFacts};
use crate::envelope::decode_envelope;
use crate::error::{CatgaError, ErrorCode, Result};
use crate::limits::Limits;

pub use super::durable_publish::{publish_durable, PublishDeadline, PublishReceipt, PublishRetry};

/// Stream retention, as in NATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    WorkQueue,
}

/// A stream to provision; re-running with the same spec is a no-op, a changed spec updates it.
/// [`StreamSpec::new`] gives every setting but the name and subjects its default.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub name: String,
    pub subjects: Vec<String>,
    pub retention: Retention,
    /// Zero keeps messages forever.
    pub max_age: Duration,
    /// -1 is unlimited.
    pub max_messages: i64,
    /// -1 is unlimited.
    pub max_bytes: i64,
    /// Passed through for clusters (1 on a single server).
    pub replicas: usize,
    /// Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate.
    pub duplicate_window: Duration,
    pub memory: bool,
}

/// The duplicate window of a stream without an age limit: 2 minutes, the server's own default.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The duplicate window a stream gets when none is given: [`DEFAULT_DUPLICATE_WINDOW`], cut to
/// `max_age` when that is shorter, since the server refuses a window longer than the age limit.
pub fn default_duplicate_window(max_age: Duration) -> Duration {
    if max_age.is_zero() {
        DEFAULT_DUPLICATE_WINDOW
    } else {
        max_age.min(DEFAULT_DUPLICATE_WINDOW)
    }
}

impl StreamSpec {
    /// A stream capturing `subjects` with every other setting at its default: the one table of
    /// stream defaults. Limits retention, no age, count or size limit, 1 replica, a
    /// [`DEFAULT_DUPLICATE_WINDOW`] and file storage. The binding fills the fields a caller
    /// leaves out from it and reports it as `streamDefaults()`.
    pub fn new(name: impl Into<String>, subjects: Vec<String>) -> Self {
        Self {
            name: name.into(),
            subjects,
            retention: Retention::Limits,
            max_age: Duration::ZERO,
            max_messages: -1,
            max_bytes: -1,
            replicas: 1,
            duplicate_window: default_duplicate_window(Duration::ZERO),
            memory: false,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let token = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>'));
        if !token(&self.name) {
            return Err(CatgaError::invalid_argument(
                "stream.name",
                "must be non-empty without spaces, dots or wildcards",
            ));
        }
        if self.subjects.is_empty() || self.subjects.iter().any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
            return Err(CatgaError::invalid_argument(
                "stream.subjects",
                "must list at least one subject without spaces",
            ));
        }
        if self.replicas == 0 || self.replicas > 5 {
            return Err(CatgaError::invalid_argument("stream.replicas", "must be between 1 and 5"));
        }
        Ok(())
    }

    fn to_config(&self) -> StreamConfig {
        StreamConfig {
            name: self.name.clone(),
            subjects: self.subjects.clone(),
            retention: match self.retention {
                Retention::Limits => RetentionPolicy::Limits,
                Retention::Interest => RetentionPolicy::Interest,
                Retention::WorkQueue => RetentionPolicy::WorkQueue,
            },
            max_age: self.max_age,
            max_messages: self.max_messages,
            max_bytes: self.max_bytes,
            num_replicas: self.replicas,
            duplicate_window: self.duplicate_window,
            storage: if self.memory { StorageType::Memory } else { StorageType::File },
            ..Default::default()
        }
    }
}

/// A durable pull consumer to create or update.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerSpec {
    pub stream: String,
    pub durable: String,
    pub filter_subject: Option<String>,
    pub ack_wait: Duration,
    /// Deliveries before the host dead-letters (-1: never). Checked here, enforced by the host:
    /// the server-side limit is unlimited (see [`durable_consumer`]).
    pub max_deliver: i64,
    pub backoff: Vec<Duration>,
    pub max_ack_pending: i64,
    /// Messages per fetch (and per JS batch).
    pub batch: usize,
    /// How long one fetch waits for messages before returning what it has.
    pub fetch_wait: Duration,
}

impl ConsumerSpec {
    pub fn validate(&self) -> Result<()> {
        let token = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>'));
        if !token(&self.durable) {
            return Err(CatgaError::invalid_argument(
                "consumer.durable",
                "must be non-empty without spaces, dots or wildcards",
            ));
        }
        if self.max_deliver == 0 || self.max_deliver < -1 {
            return Err(CatgaError::invalid_argument("consumer.maxDeliver", "must be -1 (unlimited) or at least 1"));
        }
        if self.batch == 0 || self.batch > 4096 {
            return Err(CatgaError::invalid_argument("consumer.batch", "must be between 1 and 4096"));
        }
        if self.max_ack_pending == 0 || self.max_ack_pending < -1 {
            return Err(CatgaError::invalid_argument("consumer.maxAckPending", "must be -1 or at least 1"));
        }
        if self.ack_wait.is_zero() {
            return Err(CatgaError::invalid_argument("consumer.ackWaitMs", "must be greater than 0"));
        }
        Ok(())
    }
}

fn js_error(what: &str, err: impl std::fmt::Display) -> CatgaError {
    CatgaError::new(ErrorCode::Transport, format!("{what}: {err}"))
}

/// Whether creating a stream failed only because another client created it at the same moment
/// ("name in use" or "subjects overlap" for the stream that now exists): asking again finds it.
pub(crate) fn lost_create_race(error: &async_nats::jetstream::context::CreateStreamError) -> bool {
    use async_nats::jetstream::context::CreateStreamErrorKind as K;
    matches!(error.kind(), K::JetStream(ref js_error)
        if js_error.error_code() == JsErrorCode::STREAM_NAME_EXIST
            || js_error.error_code() == JsErrorCode::STREAM_SUBJECT_OVERLAP)
}

/// Creates or updates a stream so it matches `spec` (idempotent).
pub async fn ensure_stream(js: &Context, spec: &StreamSpec) -> Result<()> {
    spec.validate()?;
    use async_nats::jetstream::context::CreateStreamErrorKind as K;
    let config = spec.to_config();
    // Two instances starting together both find no stream and both create it; the slower one is
    // refused ("name in use" or "subjects overlap") although the stream it asked for now exists.
    // Asking again finds it and updates it. A real overlap with another stream fails every time.
    let mut races_lost = 0;
    loop {
        let error = match js.create_or_update_stream(config.clone()).await {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        if lost_create_race(&error) && races_lost < 2 {
            races_lost += 1;
            continue;
        }
        let code = match error.kind() {
            // The server (or the client) refused this stream's configuration.
            K::EmptyStreamName | K::InvalidStreamName | K::DomainAndExternalSet | K::JetStream(_) => {
                ErrorCode::InvalidArgument
            }
            K::TimedOut => ErrorCode::Timeout,
            K::JetStreamUnavailable | K::Response | K::NotFound | K::ResponseParse => ErrorCode::Transport,
        };
        return Err(CatgaError::new(code, format!("stream {}: {error}", spec.name)));
    }
}

/// Deletes a stream and its messages; `Ok(false)` when there was no such stream.
pub async fn delete_stream(js: &Context, name: &str) -> Result<bool> {
    use async_nats::jetstream::context::DeleteStreamErrorKind as K;
    match js.delete_stream(name).await {
        Ok(status) => Ok(status.success),
        Err(err) if matches!(err.kind(), K::JetStream(_)) => Ok(false),
        Err(err) => Err(js_error(&format!("delete stream {name}"), err)),
    }
}

/// Creates the durable pull consumer (or updates it to match `spec`).
pub async fn durable_consumer(js: &Context, spec: &ConsumerSpec, limits: Limits) -> Result<DurableConsumer> {
    spec.validate()?;
    use async_nats::jetstream::context::GetStreamErrorKind as G;
    use async_nats::jetstream::stream::ConsumerErrorKind as C;
    let stream = js.get_stream(&spec.stream).await.map_err(|e| {
        // A missing or misnamed stream is the caller's to fix; a failed request (no JetStream on
        // the server, no connection, no answer) is not.
        let code = match e.kind() {
            G::EmptyName | G::InvalidStreamName | G::JetStream(_) => ErrorCode::InvalidArgument,
            G::Request => ErrorCode::Transport,
        };
        CatgaError::new(code, format!("consumer.stream {}: {e}", spec.stream))
    })?;
    let config = PullConfig {
        durable_name: Some(spec.durable.clone()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: spec.ack_wait,
        // The host dead-letters at `spec.max_deliver`; the server never gives up on its own. Were
        // the server's limit the same, a message whose last delivery could not be settled (the
        // dead-letter publish failed, or the host failed the batch) would be dropped unseen.
        max_deliver: -1,
        filter_subject: spec.filter_subject.clone().unwrap_or_default(),
        backoff: spec.backoff.clone(),
        max_ack_pending: spec.max_ack_pending,
        ..Default::default()
    };
    let consumer = stream.create_consumer(config).await.map_err(|e| {
        let code = match e.kind() {
            C::InvalidConsumerType | C::InvalidName | C::JetStream(_) => ErrorCode::InvalidArgument,
            C::TimedOut => ErrorCode::Timeout,
            C::Request | C::Other => ErrorCode::Transport,
        };
        CatgaError::new(code, format!("consumer {}: {e}", spec.durable))
    })?;
    let start = ConsumerState::of(consumer.cached_info());
    // One inbox for every pull request of this consumer: messages of a request given up on (its
    // node died, or its heartbeats were late) still arrive here and go out with the next fetch,
    // instead of being dropped with a per-request inbox and redelivered only after the ack wait.
    let client = js.client();
    let inbox = Subject::from(client.new_inbox());
    let inbound = client.subscribe(inbox.clone()).await.map_err(|e| js_error("consumer inbox", e))?;
    // Ack confirmations wait at most this long: an ack sent to a leader that just died is never
    // answered, and waiting out the full request timeout would hold the next fetch.
    let mut acks = js.clone();
    acks.set_timeout(ACK_CONFIRM_TIMEOUT);
    Ok(DurableConsumer {
        consumer,
        client,
        inbox,
        inbound: tokio::sync::Mutex::new(inbound),
        acks,
        batch: spec.batch,
        fetch_wait: spec.fetch_wait,
        limits,
        start,
    })
}

/// How long a settle waits for the server to confirm an ack (`double_ack`). An unconfirmed ack
/// may still have been applied; if not, the message is redelivered after the ack wait.
pub const ACK_CONFIRM_TIMEOUT: Duration = Duration::from_secs(1);

/// The idle heartbeat a pull request asks for: half its wait (the server needs it below the
/// expiry), at most 1 s.
pub fn fetch_heartbeat(fetch_wait: Duration) -> Duration {
    (fetch_wait / 2).min(Duration::from_secs(1))
}

/// How long a fetch waits without a message, a heartbeat or the request's end before it takes
/// the request for lost (its node died, or the connection was replaced) and returns, so the next
/// fetch asks again, at a node that is alive: two heartbeats, and never less than 1 s, so a loaded
/// server's late heartbeat does not count as a loss (a false alarm only costs one more request).
pub fn fetch_silence_limit(fetch_wait: Duration) -> Duration {
    (fetch_heartbeat(fetch_wait) * 2).max(Duration::from_secs(1))
}

/// Where a durable consumer stands on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerState {
    /// Every stream sequence up to this one is acked (or terminated).
    pub ack_floor: u64,
    /// The highest stream sequence delivered so far.
    pub delivered: u64,
    /// Messages delivered and not yet acked (to any instance, alive or dead).
    pub ack_pending: u64,
}

impl ConsumerState {
    fn of(info: &async_nats::jetstream::consumer::Info) -> Self {
        Self {
            ack_floor: info.ack_floor.stream_sequence,
            delivered: info.delivered.stream_sequence,
            ack_pending: info.num_ack_pending as u64,
        }
    }

    /// Whether every message delivered up to `start.delivered` has been acked since `start`:
    /// what a consumer that started with unacked messages waits for before it may take a key's
    /// later messages (see docs/architecture/jetstream.md, per-key order).
    pub fn settled_through(&self, start: &ConsumerState) -> bool {
        self.ack_pending == 0 || self.ack_floor >= start.delivered
    }
}

/// One fetched message, with what the host needs to decide its fate.
#[derive(Debug)]
pub struct Delivery {
    pub message: Message,
    pub stream_sequence: u64,
    /// 1 on first delivery.
    pub delivered: u32,
}

impl Delivery {
    /// The message's NATS headers (first value of each).
    pub fn headers(&self) -> Vec<(String, String)> {
        let Some(headers) = &self.message.headers else {
            return Vec::new();
        };
        headers
            .iter()
            .filter_map(|(name, values)| values.first().map(|v| (name.to_string(), v.as_str().to_owned())))
            .collect()
    }
}

/// What to do with a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Ack,
    /// Redeliver after the delay (the consumer's backoff applies when `None`).
    Nak(Option<Duration>),
    /// Publish to `subject` (a dead-letter subject) with the error, then stop redelivery.
    DeadLetter {
        subject: String,
        code: String,
        message: String,
        /// Attempts made, for `Catga-Deliveries` (the server's delivery count when `None`; the
        /// host counts its own retries of a held message).
        deliveries: Option<u32>,
    },
}

pub struct DurableConsumer {
    consumer: Consumer<PullConfig>,
    client: async_nats::Client,
    /// Where every pull request of this consumer delivers (see [`durable_consumer`]).
    inbox: Subject,
    inbound: tokio::sync::Mutex<Subscriber>,
    /// The context fetched messages ack through, with [`ACK_CONFIRM_TIMEOUT`].
    acks: Context,
    batch: usize,
    fetch_wait: Duration,
    limits: Limits,
    start: ConsumerState,
}

impl DurableConsumer {
    /// The consumer's state when it was created or opened, before this process fetched anything:
    /// unacked messages then belong to an earlier (possibly dead) instance.
    pub fn start_state(&self) -> ConsumerState {
        self.start
    }

    /// The consumer's state now (one request to the server).
    pub async fn state(&self) -> Result<ConsumerState> {
        let info = self.consumer.get_info().await.map_err(|e| js_error("consumer info", e))?;
        Ok(ConsumerState::of(&info))
    }

    /// Stops taking deliveries: unsubscribes the consumer's inbox, so a pull request still open on
    /// the server delivers to no one (the server skips it) rather than to an inbox nobody reads,
    /// where its messages would wait out the ack wait. Call when the fetch loop ends.
    pub async fn close_inbox(&self) {
        let _ = self.inbound.lock().await.unsubscribe().await;
    }

    /// Fetches up to `batch` messages, waiting at most `fetch_wait`. Messages that are not Catga
    /// envelopes are delivered too (the host dead-letters them as `CATGA_DECODE`, keeping their
    /// bytes, subject and sequence) and counted in the second value.
    ///
    /// The pull request asks for idle heartbeats; when neither a message, a heartbeat nor the
    /// request's end arrives for [`fetch_silence_limit`], the request died with the node that held
    /// it (the consumer's leader, or the node this client was connected to) and the fetch returns
    /// what it has: the next one reaches the new leader. async-nats' own `fetch` ignores missed
    /// heartbeats and waits 5 s past the expiry, so a node loss cost the consumer 6 s or more.
    /// While disconnected no request is sent (it would be queued and sent late); the error makes
    /// the caller back off and try again.
    pub async fn fetch(&self) -> Result<(Vec<Delivery>, u32)> {
        if self.client.connection_state() != State::Connected {
            return Err(CatgaError::new(ErrorCode::NotConnected, "fetch: not connected"));
        }
        let mut inbound = self.inbound.lock().await;
        let request = BatchConfig {
            batch: self.batch,
            expires: Some(self.fetch_wait),
            no_wait: true,
            idle_heartbeat: fetch_heartbeat(self.fetch_wait),
            ..Default::default()
        };
        self.consumer.request_batch(request, self.inbox.clone()).await.map_err(|e| js_error("fetch", e))?;
        let silence = fetch_silence_limit(self.fetch_wait);
        let mut deliveries = Vec::new();
        let mut malformed = 0u32;
        while deliveries.len() < self.batch {
            let Ok(next) = tokio::time::timeout(silence, inbound.next()).await else {
                break; // heartbeats missed: the request is gone
            };
            let Some(message) = next else {
                return Err(js_error("fetch", "the consumer's inbox was closed"));
            };
            match message.status {
                None | Some(StatusCode::OK) => {}
                Some(StatusCode::IDLE_HEARTBEAT) => continue,
                // The request ended: expired, or nothing (more) to deliver. It may be an earlier
                // request's end; this one's messages then come with the next fetch.
                Some(StatusCode::TIMEOUT | StatusCode::NOT_FOUND) => break,
                // No responders (no consumer leader: an election is under way), or the server
                // ended the request (leadership change, limits): ask again after a pause.
                Some(status) if deliveries.is_empty() => {
                    let why = message.description.as_deref().unwrap_or("");
                    return Err(js_error("fetch", format!("status {status} {why}")));
                }
                Some(_) => break,
            }
            let message = Message { message, context: self.acks.clone() };
            let (stream_sequence, delivered) = match message.info() {
                Ok(info) => (info.stream_sequence, info.delivered.clamp(0, i64::from(u32::MAX)) as u32),
                Err(_) => (0, 1),
            };
            if decode_envelope(&message.payload, &self.limits).is_err() {
                malformed += 1;
            }
            deliveries.push(Delivery { message, stream_sequence, delivered });
        }
        Ok((deliveries, malformed))
    }
}

/// Settles a fetched batch, all messages at once; per-message failures are left to redelivery.
pub async fn settle_all(js: &Context, deliveries: &[Delivery], decisions: &[Decision]) {
    futures_util::future::join_all(deliveries.iter().zip(decisions).map(|(delivery, decision)| async move {
        let _ = settle(js, delivery, decision).await;
    }))
    .await;
}

/// Applies a decision: ack, nak, or dead-letter then terminate. A dead-letter publish that fails
/// leaves the message to be redelivered (nak; the consumer's server-side `max_deliver` is
/// unlimited, see [`durable_consumer`]), so nothing is lost.
pub async fn settle(js: &Context, delivery: &Delivery, decision: &Decision) -> Result<()> {
    let message = &delivery.message;
    let result = match decision {
        Decision::Ack => message.double_ack().await,
        Decision::Nak(delay) => message.ack_with(AckKind::Nak(*delay)).await,
        Decision::DeadLetter { subject, code, message: text, deliveries } => {
            let info = message.info().ok();
            let headers = dead_letter_headers(&DeadLetterFacts {
                code,
                message: text,
                deliveries: deliveries.unwrap_or(delivery.delivered),
                original_subject: message.subject.as_str(),
                stream_sequence: delivery.stream_sequence,
                stream: info.as_ref().map(|i| i.stream),
                consumer: info.as_ref().map(|i| i.consumer),
            });
            let sent = match js.publish_with_headers(subject.clone(), headers, message.payload.clone()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| js_error("dead-letter publish", e)),
                Err(e) => Err(js_error("dead-letter publish", e)),
            };
            match sent {
                Ok(()) => message.ack_with(AckKind::Term).await,
                Err(err) => {
                    let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                    return Err(err);
                }
            }
        }
    };
    result.map_err(|e| js_error("ack", e))
}

#[cfg(test)]
#[path = "jetstream_tests.rs"]
mod tests;
