//! Connection, publishing, request/reply, subscriptions and bounded admission.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, Event, RequestErrorKind, ServerAddr};
use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::inbound::InboundSubscription;
use super::options::{BackpressurePolicy, NatsOptions};
use super::request_batch::{plan_requests, BatchRequest, RequestJob};
use super::request_frames::{frame_replies, group_deadline, GroupRequest, ReplyRouter};
use super::stats::{Stats, StatsSnapshot};
use crate::error::{CatgaError, ErrorCode, Result};
use crate::frame::{split_into_frames, FrameCut};

/// Connection status changes, reported to the host (JS) as they happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connected,
    Disconnected,
    Reconnecting { attempt: usize },
    Reconnected,
    LameDuck,
    SlowConsumer,
    Draining,
    Closed,
    Error(String),
}

impl ConnectionEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionEvent::Connected => "connected",
            ConnectionEvent::Disconnected => "disconnected",
            ConnectionEvent::Reconnecting { .. } => "reconnecting",
            ConnectionEvent::Reconnected => "reconnected",
            ConnectionEvent::LameDuck => "lameDuck",
            ConnectionEvent::SlowConsumer => "slowConsumer",
            ConnectionEvent::Draining => "draining",
            ConnectionEvent::Closed => "closed",
            ConnectionEvent::Error(_) => "error",
        }
    }
}

pub type EventSink = Arc<dyn Fn(ConnectionEvent) + Send + Sync>;

/// A connected NATS engine. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct NatsEngine {
    client: Client,
    jetstream: async_nats::jetstream::Context,
    options: NatsOptions,
    requests: Arc<Semaphore>,
    pending_bytes: Arc<Semaphore>,
    closing: AtomicBool,
    stats: Arc<Stats>,
    router: ReplyRouter,
}

fn transport(what: &str, err: impl std::fmt::Display) -> CatgaError {
    CatgaError::new(ErrorCode::Transport, format!("{what}: {err}"))
}

/// Maps a publish failure to a coded error naming the subject.
pub(crate) fn publish_error(subject: &str, e: async_nats::client::PublishError) -> CatgaError {
    match e.kind() {
        async_nats::client::PublishErrorKind::InvalidSubject => {
            CatgaError::invalid_argument("subject", format!("{subject:?} is not a valid NATS subject"))
        }
        async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
            CatgaError::new(ErrorCode::Limit, format!("message on {subject} exceeds the server's max_payload"))
        }
        _ => transport(&format!("publish to {subject}"), e),
    }
}

fn parse_servers(servers: &[String]) -> Result<Vec<ServerAddr>> {
    servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<ServerAddr>()
                .map_err(|e| CatgaError::invalid_argument(&format!("servers[{i}]"), format!("{s:?}: {e}")))
        })
        .collect()
}

/// Exponential backoff with full jitter, capped; attempt counts from 1.
fn reconnect_delay(attempt: usize, initial: Duration, max: Duration) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(max);
    // Jitter from the clock's sub-second nanos: good enough to de-synchronise clients, no RNG dep.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let fraction = 0.5 + f64::from(nanos % 1000) / 2000.0;
    capped.mul_f64(fraction)
}

impl NatsEngine {
    /// Connects, failing with `CATGA_NOT_CONNECTED` when no server answers within the timeout.
    pub async fn connect(options: NatsOptions, on_event: EventSink) -> Result<Self> {
        options.validate()?;
        let servers = parse_servers(&options.servers)?;
        let stats = Arc::new(Stats::default());
        let mut connect = async_nats::ConnectOptions::new()
            .max_reconnects(options.max_reconnects)
            .ping_interval(options.ping_interval)
            .connection_timeout(options.connect_timeout)
            .request_timeout(Some(options.request_timeout))
            .subscription_capacity(options.subscription_capacity);
        if let Some(name) = &options.name {
            connect = connect.name(name);
        }
        if let (Some(user), Some(password)) = (&options.user, &options.password) {
            connect = connect.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &options.token {
            connect = connect.token(token.clone());
        }
        if let Some(seed) = &options.nkey_seed {
            connect = connect.nkey(seed.clone());
        }
        if let Some(path) = &options.credentials_file {
            connect = connect
                .credentials_file(path)
                .await
                .map_err(|e| CatgaError::invalid_argument("credentialsFile", format!("{}: {e}", path.display())))?;
        }
        if options.tls.required {
            connect = connect.require_tls(true);
        }
        if let Some(ca) = &options.tls.ca_file {
            connect = connect.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&options.tls.cert_file, &options.tls.key_file) {
            connect = connect.add_client_certificate(cert.clone(), key.clone());
        }
        if options.no_echo {
            connect = connect.no_echo();
        }

        let was_disconnected = Arc::new(AtomicBool::new(false));
        let (initial, max) = (options.reconnect_delay_initial, options.reconnect_delay_max);
        let (sink, disconnected) = (on_event.clone(), was_disconnected.clone());
        connect = connect.reconnect_delay_callback(move |attempt| {
            // async-nats also asks for a delay before the very first connect; that is not a reconnect.
            if !disconnected.load(Ordering::SeqCst) {
                return Duration::ZERO;
            }
            sink(ConnectionEvent::Reconnecting { attempt });
            reconnect_delay(attempt, initial, max)
        });

        let event_stats = stats.clone();
        connect = connect.event_callback(move |event| {
            let on_event = on_event.clone();
            let was_disconnected = was_disconnected.clone();
            let stats = event_stats.clone();
            async move {
                let mapped = match event {
                    Event::Connected if was_disconnected.swap(false, Ordering::SeqCst) => {
                        Stats::add(&stats.reconnects, 1);
                        ConnectionEvent::Reconnected
                    }
                    Event::Connected => ConnectionEvent::Connected,
                    Event::Disconnected => {
                        was_disconnected.store(true, Ordering::SeqCst);
                        ConnectionEvent::Disconnected
                    }
                    Event::LameDuckMode => ConnectionEvent::LameDuck,
                    Event::Draining => ConnectionEvent::Draining,
                    Event::Closed => ConnectionEvent::Closed,
                    Event::SlowConsumer(_) => ConnectionEvent::SlowConsumer,
                    Event::ServerError(e) => ConnectionEvent::Error(e.to_string()),
                    Event::ClientError(e) => ConnectionEvent::Error(e.to_string()),
                };
                on_event(mapped);
            }
        });

        let client = connect.connect(servers).await.map_err(|e| {
            CatgaError::new(ErrorCode::NotConnected, format!("cannot connect to {}: {e}", options.servers.join(", ")))
        })?;
        Ok(Self {
            jetstream: async_nats::jetstream::new(client.clone()),
            router: ReplyRouter::new(&client),
            client,
            requests: Arc::new(Semaphore::new(options.max_in_flight_requests)),
            pending_bytes: Arc::new(Semaphore::new(options.max_pending_bytes)),
            options,
            closing: AtomicBool::new(false),
            stats,
        })
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The JetStream context on this connection (see [`super::jetstream`]).
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.jetstream
    }

    /// Durable publish through the same admission bounds as core publishes.
    pub async fn publish_durable(
        &self,
        items: &[(&str, &str, &[u8])],
    ) -> Result<Vec<Result<super::jetstream::PublishReceipt>>> {
        self.check_open()?;
        let total: usize = items.iter().map(|(_, _, bytes)| bytes.len()).sum();
        let _permit = self.admit_bytes(total, items.len()).await?;
        let outcomes =
            super::jetstream::publish_durable(&self.jetstream, items, self.options.max_in_flight_requests.min(1024))
                .await;
        Stats::add(&self.stats.messages_sent, outcomes.iter().filter(|o| o.is_ok()).count() as u64);
        Stats::add(&self.stats.bytes_sent, total as u64);
        Ok(outcomes)
    }

    pub fn check_accepting(&self) -> Result<()> {
        self.check_open()
    }

    pub fn options(&self) -> &NatsOptions {
        &self.options
    }

    fn check_open(&self) -> Result<()> {
        if self.closing.load(Ordering::SeqCst) {
            return Err(CatgaError::new(ErrorCode::Closed, "the NATS connection is closing; no new work is accepted"));
        }
        if self.options.when_disconnected == BackpressurePolicy::Reject && !self.is_connected() {
            return Err(CatgaError::new(
                ErrorCode::NotConnected,
                "NATS is disconnected (policy: reject while disconnected)",
            ));
        }
        Ok(())
    }

    /// Admits `total` bytes under `max_pending_bytes`. A batch larger than the whole budget still
    /// goes through once it has the budget to itself.
    ///
    /// `messages` is how many envelopes the bytes hold: what the wait/rejection stats count, so a
    /// refused batch of 200 counts 200 rejections, as 200 single publishes would.
    async fn admit_bytes(&self, total: usize, messages: usize) -> Result<OwnedSemaphorePermit> {
        let permits = total.min(self.options.max_pending_bytes).max(1) as u32;
        self.admit(&self.pending_bytes, permits, messages.max(1) as u64, "pending bytes").await
    }

    /// Takes `permits` from a bound, per the backpressure policy. `units` is how many requests or
    /// publishes the admission stands for, as counted in the wait/rejection stats.
    async fn admit(
        &self,
        semaphore: &Arc<Semaphore>,
        permits: u32,
        units: u64,
        what: &str,
    ) -> Result<OwnedSemaphorePermit> {
        match semaphore.clone().try_acquire_many_owned(permits) {
            Ok(permit) => Ok(permit),
            Err(TryAcquireError::Closed) => Err(closed()),
            // close() queues for every permit: work that arrives meanwhile is refused as closed,
            // not as backpressure.
            Err(TryAcquireError::NoPermits) if self.closing.load(Ordering::SeqCst) => Err(closed()),
            Err(TryAcquireError::NoPermits) if self.options.backpressure == BackpressurePolicy::Reject => {
                Stats::add(&self.stats.backpressure_rejections, units);
                Err(CatgaError::new(ErrorCode::Backpressure, format!("{what} limit reached (policy: reject)")))
            }
            Err(TryAcquireError::NoPermits) => {
                Stats::add(&self.stats.backpressure_waits, units);
                semaphore.clone().acquire_many_owned(permits).await.map_err(|_| closed())
            }
        }
    }

    /// Publishes envelopes. With `framed`, envelopes for the same subject go out together as
    /// `CTG1` frames (split when a frame would pass the batch limits); otherwise each envelope is
    /// one NATS message (replies). Resolves once the client has accepted every message.
    pub async fn publish(&self, items: &[(&str, &[u8])], framed: bool) -> Result<()> {
        self.check_open()?;
        // Checked before anything goes out: async-nats would refuse the bad one midway, after
        // sending those before it and never sending those after it.
        let mut last_checked = None;
        for (subject, _) in items {
            if last_checked != Some(*subject) {
                check_publish_subject(subject)?;
                last_checked = Some(*subject);
            }
        }
        let total: usize = items.iter().map(|(_, bytes)| bytes.len()).sum();
        let _permit = self.admit_bytes(total, items.len()).await?;
        if framed {
            for (subject, frame) in self.frame_by_subject(items)? {
                Stats::add(&self.stats.frames_sent, 1);
                self.send(subject, Bytes::from(frame)).await?;
            }
        } else {
            for (subject, bytes) in items {
                self.send(subject, Bytes::copy_from_slice(bytes)).await?;
            }
        }
        Stats::add(&self.stats.messages_sent, items.len() as u64);
        Stats::add(&self.stats.bytes_before_compression, total as u64);
        Ok(())
    }

    async fn send(&self, subject: &str, payload: Bytes) -> Result<()> {
        Stats::add(&self.stats.bytes_sent, payload.len() as u64);
        self.client.publish(subject.to_owned(), payload).await.map_err(|e| publish_error(subject, e))
    }

    /// Publishes the replies a handler returned with its batch: replies to members of a framed
    /// request group (`reply_groups`, see [`super::request_frames`]) go back as one frame per
    /// group, the others one NATS message each.
    pub async fn publish_replies(&self, items: &[(&str, &[u8])], reply_groups: &[(String, u32)]) -> Result<()> {
        // One reply to a bad subject (the host's mistake) must not hold back the others.
        let (valid, invalid): (Vec<(&str, &[u8])>, Vec<_>) =
            items.iter().copied().partition(|(subject, _)| check_publish_subject(subject).is_ok());
        let sent = self.publish_valid_replies(&valid, reply_groups).await;
        if invalid.is_empty() {
            return sent;
        }
        sent.and(Err(CatgaError::invalid_argument(
            "replies.subjects",
            format!("{} replies had subjects that are not valid NATS subjects and were not sent", invalid.len()),
        )))
    }

    async fn publish_valid_replies(&self, items: &[(&str, &[u8])], reply_groups: &[(String, u32)]) -> Result<()> {
        if reply_groups.is_empty() {
            return self.publish(items, false).await;
        }
        let (frames, singles) = frame_replies(items, reply_groups, self.frame_options());
        if !frames.is_empty() {
            self.check_open()?;
            let total: usize = frames.iter().map(|(_, frame)| frame.len()).sum();
            let replies = items.len().saturating_sub(singles.len());
            let _permit = self.admit_bytes(total, replies).await?;
            for (subject, frame) in frames {
                Stats::add(&self.stats.frames_sent, 1);
                self.send(subject, Bytes::from(frame)).await?;
            }
            Stats::add(&self.stats.messages_sent, (items.len() - singles.len()) as u64);
            let framed_bytes: usize = items.iter().map(|(_, bytes)| bytes.len()).sum::<usize>()
                - singles.iter().map(|(_, b)| b.len()).sum::<usize>();
            Stats::add(&self.stats.bytes_before_compression, framed_bytes as u64);
        }
        if singles.is_empty() {
            Ok(())
        } else {
            self.publish(&singles, false).await
        }
    }

    /// Groups are never larger than the in-flight bound, so a group is admitted whole.
    fn requests_per_frame(&self) -> usize {
        self.options.requests_per_frame.min(self.options.max_in_flight_requests)
    }

    /// Plans a batch of requests from the host (see [`super::request_batch`]): per subject, in
    /// order, framed groups of at most `requests_per_frame`, or plain requests. Run each job with
    /// [`RequestJob::run`].
    pub fn plan_requests(&self, subjects: &[String], requests: &[BatchRequest<'_>]) -> Result<Vec<RequestJob>> {
        plan_requests(subjects, requests, self.requests_per_frame(), || self.frame_options())
    }

    /// Sends one framed request group (see [`Self::plan_requests`]); `report` gets each member's
    /// outcome (by its index in the group) as soon as it is known.
    pub async fn request_group(
        &self,
        subject: &str,
        frame: Vec<u8>,
        count: usize,
        timeout: Option<Duration>,
        mut report: impl FnMut(Vec<(usize, Result<Bytes>)>),
    ) {
        let failed = |err: CatgaError| (0..count).map(|i| (i, Err(err.clone()))).collect::<Vec<_>>();
        if let Err(err) = self.check_open() {
            return report(failed(err));
        }
        let timeout = timeout.unwrap_or(self.options.request_timeout);
        let deadline = group_deadline(timeout);
        // Groups are framed no larger than the bound (see `frame_requests`), so a group is admitted whole.
        let permits = count.min(self.options.max_in_flight_requests).max(1) as u32;
        let admitted = self.admit(&self.requests, permits, count as u64, "requests in flight");
        let _permit = match tokio::time::timeout_at(deadline, admitted).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(err)) => return report(failed(err)),
            Err(_) => return report(failed(self.timeout_error(subject, timeout))),
        };
        Stats::add(&self.stats.requests, count as u64);
        let group = GroupRequest {
            client: &self.client,
            router: &self.router,
            stats: &self.stats,
            subject,
            frame,
            count,
            deadline,
            limits: &self.options.frame.limits,
        };
        let stats = &self.stats;
        let counted = |outcomes: Vec<(usize, Result<Bytes>)>| {
            Stats::add(&stats.request_failures, outcomes.iter().filter(|(_, o)| o.is_err()).count() as u64);
            report(outcomes);
        };
        group.run(|| self.timeout_error(subject, timeout), counted).await;
    }

    /// A request's deadline passed: always `CATGA_TIMEOUT` (what the docs and the default retry
    /// classification expect), with the disconnection named in the message when that was why.
    /// `CATGA_NOT_CONNECTED` is for refusing work at once (`whenDisconnected: reject`, connect).
    fn timeout_error(&self, subject: &str, timeout: Duration) -> CatgaError {
        let waited = timeout.as_millis();
        if self.is_connected() {
            CatgaError::new(ErrorCode::Timeout, format!("no reply on {subject} within {waited} ms"))
        } else {
            CatgaError::new(
                ErrorCode::Timeout,
                format!("no reply on {subject} within {waited} ms (NATS was disconnected meanwhile)"),
            )
        }
    }

    /// Frame options whose batch size also fits the server's `max_payload` (1 MiB by default),
    /// so a large batch is split into several frames instead of being refused by the server.
    fn frame_options(&self) -> crate::frame::FrameOptions {
        let mut options = self.options.frame;
        let server_max = self.client.server_info().max_payload;
        if server_max > 0 {
            options.limits.max_batch_bytes = options.limits.max_batch_bytes.min(server_max);
        }
        options
    }

    fn event_frame_cut(&self) -> FrameCut {
        FrameCut { max_envelopes: usize::MAX, target_bytes: self.options.event_frame_bytes }
    }

    fn frame_by_subject<'a>(&self, items: &[(&'a str, &[u8])]) -> Result<Vec<(&'a str, Vec<u8>)>> {
        // Envelopes per subject, in order; batches are mostly runs of one subject, so the last
        // slot is tried before hashing.
        let mut groups: Vec<(&'a str, Vec<&[u8]>)> = Vec::new();
        let mut index: HashMap<&'a str, usize> = HashMap::new();
        let mut last: Option<(&str, usize)> = None;
        for &(subject, bytes) in items {
            let slot = match last {
                Some((previous, slot)) if previous == subject => slot,
                _ => *index.entry(subject).or_insert_with(|| {
                    groups.push((subject, Vec::new()));
                    groups.len() - 1
                }),
            };
            last = Some((subject, slot));
            groups[slot].1.push(bytes);
        }
        let frame_options = self.frame_options();
        let mut frames = Vec::new();
        for (subject, envelopes) in groups {
            for (frame, _) in split_into_frames(envelopes, self.event_frame_cut(), frame_options)? {
                frames.push((subject, frame));
            }
        }
        Ok(frames)
    }

    /// Sends one request and waits for its reply, bounded by `timeout` (or the default).
    pub async fn request(&self, subject: &str, payload: Bytes, timeout: Option<Duration>) -> Result<Bytes> {
        self.check_open()?;
        let timeout = timeout.unwrap_or(self.options.request_timeout);
        let deadline = group_deadline(timeout);
        let admitted = self.admit(&self.requests, 1, 1, "requests in flight");
        let _permit = match tokio::time::timeout_at(deadline, admitted).await {
            Ok(permit) => permit?,
            Err(_) => return Err(self.timeout_error(subject, timeout)),
        };
        Stats::add(&self.stats.requests, 1);
        let request = async_nats::Request::new().payload(payload).timeout(Some(timeout));
        // async-nats starts its timeout once the request is queued, and queueing waits while it
        // reconnects: the whole call is bounded here so a request never outlives its timeout.
        let sent = match tokio::time::timeout_at(deadline, self.client.send_request(subject.to_owned(), request)).await
        {
            Ok(sent) => sent,
            Err(_) => {
                Stats::add(&self.stats.request_failures, 1);
                return Err(self.timeout_error(subject, timeout));
            }
        };
        match sent {
            Ok(message) => Ok(message.payload),
            Err(err) => {
                Stats::add(&self.stats.request_failures, 1);
                Err(match err.kind() {
                    RequestErrorKind::TimedOut => self.timeout_error(subject, timeout),
                    RequestErrorKind::NoResponders => {
                        CatgaError::new(ErrorCode::NoHandler, format!("no handler is subscribed to {subject}"))
                    }
                    RequestErrorKind::InvalidSubject => {
                        CatgaError::invalid_argument("subject", format!("{subject:?} is not a valid NATS subject"))
                    }
                    RequestErrorKind::MaxPayloadExceeded => CatgaError::new(
                        ErrorCode::Limit,
                        format!("request on {subject} exceeds the server's max_payload"),
                    ),
                    RequestErrorKind::Other => transport(&format!("request on {subject}"), err),
                })
            }
        }
    }

    /// Subscribes (in a queue group when `queue` is set, so instances share the load).
    pub async fn subscribe(&self, subject: &str, queue: Option<&str>) -> Result<InboundSubscription> {
        self.check_open()?;
        let subscriber = match queue {
            Some(queue) => self.client.queue_subscribe(subject.to_owned(), queue.to_owned()).await,
            None => self.client.subscribe(subject.to_owned()).await,
        }
        .map_err(|e| transport(&format!("subscribe to {subject}"), e))?;
        Ok(InboundSubscription::new(
            subscriber,
            self.options.frame.limits,
            self.options.inbound_batch_max,
            self.stats.clone(),
        ))
    }

    /// Flushes everything buffered and waits for a server round trip, so subscriptions made
    /// before this call are live on the server when it resolves. async-nats' own `flush` only
    /// empties the socket buffer; the server answers a request with no responders at once, and
    /// it processes one connection's protocol in order, so that reply proves the SUBs were seen.
    pub async fn flush(&self) -> Result<()> {
        // Bounded as a whole: while async-nats reconnects it takes no commands at all.
        let timed_out = || CatgaError::new(ErrorCode::Timeout, "the server did not answer a flush in time");
        let round_trip = async {
            self.client.flush().await.map_err(|e| transport("flush", e))?;
            let probe = format!("_CATGA.PING.{}", self.client.new_inbox().trim_start_matches("_INBOX."));
            let request = async_nats::Request::new().timeout(Some(self.options.request_timeout));
            match self.client.send_request(probe, request).await {
                Ok(_) => Ok(()),
                Err(err) if err.kind() == RequestErrorKind::NoResponders => Ok(()),
                Err(err) if err.kind() == RequestErrorKind::TimedOut => Err(timed_out()),
                Err(err) => Err(transport("flush", err)),
            }
        };
        tokio::time::timeout(self.options.request_timeout, round_trip).await.unwrap_or_else(|_| Err(timed_out()))
    }

    /// Graceful close: refuse new work, let in-flight requests and publishes finish (each is
    /// bounded by its timeout), flush, then drain subscriptions so their streams end.
    pub async fn close(&self) -> Result<()> {
        if self.closing.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let all_requests = self.options.max_in_flight_requests as u32;
        let all_bytes = self.options.max_pending_bytes as u32;
        let _requests = self.requests.acquire_many(all_requests).await;
        let _bytes = self.pending_bytes.acquire_many(all_bytes).await;
        // Everything admitted before close has finished; whatever still waits for room would run
        // on a drained client: it fails as closed instead.
        self.requests.close();
        self.pending_bytes.close();
        if self.is_connected() {
            let _ = tokio::time::timeout(self.options.request_timeout, self.client.flush()).await;
        }
        // async-nats drains only once it is connected again: with the server gone, close would
        // otherwise wait for as long as reconnecting takes (forever with maxReconnects -1).
        match tokio::time::timeout(self.options.request_timeout, self.client.drain()).await {
            Ok(drained) => drained.map_err(|e| transport("drain", e)),
            Err(_) => Err(CatgaError::new(
                ErrorCode::Timeout,
                format!(
                    "could not drain the connection within {} ms (server unreachable); closed without it",
                    self.options.request_timeout.as_millis()
                ),
            )),
        }
    }
}

fn closed() -> CatgaError {
    CatgaError::new(ErrorCode::Closed, "the NATS connection is closed")
}

/// What async-nats accepts as a publish subject: non-empty, no leading or trailing dot, no empty
/// token, no space, tab, CR or LF (its own check is crate-private).
pub(crate) fn check_publish_subject(subject: &str) -> Result<()> {
    let valid = !subject.is_empty()
        && !subject.starts_with('.')
        && !subject.ends_with('.')
        && !subject.contains("..")
        && !subject.contains([' ', '\t', '\r', '\n']);
    if valid {
        Ok(())
    } else {
        Err(CatgaError::invalid_argument("subject", format!("{subject:?} is not a valid NATS subject")))
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
