//! The engine handle: one async-nats connection with its admission bounds, counters and reply
//! router, shared behind an `Arc`. Connecting, admission, publishing and requests are in the
//! child modules; this file holds the handle, subscriptions, flush and close.
//!
//! Invariant: after [`NatsEngine::close`] begins, no new work is admitted (`CATGA_CLOSED`), and
//! everything admitted before it has finished or failed when it resolves.

mod admission;
mod connect;
mod publish;
mod request;

pub use publish::{PublishMode, PublishOutcome};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_nats::connection::State;
use async_nats::{Client, RequestErrorKind};
use tokio::sync::Semaphore;

use super::errors::transport;
use super::inbound::InboundSubscription;
use super::options::NatsOptions;
use super::permissions::Permissions;
use super::request_frames::ReplyRouter;
use super::service::{Discovery, ServiceSpec};
use super::stats::{Stats, StatsSnapshot};
use crate::error::{CatgaError, ErrorCode, Result};

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
    /// What the server refused this connection (publishes, subscriptions), for the calls that wait.
    permissions: Arc<Permissions>,
}

impl NatsEngine {
    /// Whether the connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// The counters as they are now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Subjects the server refused a subscription to (a permissions violation), so far. Such a
    /// subscription stays silent; `flush` first, so every SUB sent before has been answered.
    pub fn refused_subscriptions(&self) -> Vec<String> {
        self.permissions.refused_subscriptions()
    }

    /// Counts `n` inbound messages that are not Catga envelopes, found outside the engine's own
    /// subscriptions (a durable consumer's fetch), in `malformed_received`.
    pub fn record_malformed(&self, n: u64) {
        Stats::add(&self.stats.malformed_received, n);
    }

    /// The JetStream context on this connection (see [`super::jetstream`]).
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.jetstream
    }

    /// Opens (or creates) a KV bucket on this connection (see [`super::kv::bucket`]); its calls
    /// fail with `CATGA_PERMISSION_DENIED` as soon as the server refuses one of their publishes.
    pub async fn key_value(
        &self,
        name: &str,
        max_age: std::time::Duration,
        memory: bool,
    ) -> Result<super::kv::KvBucket> {
        let bucket = super::kv::bucket(&self.jetstream, name, max_age, memory).await?;
        Ok(bucket.refused_by(self.permissions.clone()))
    }

    /// Starts answering NATS service discovery (`$SRV.PING/INFO/STATS`) for `spec` on this
    /// connection (see [`super::service`]).
    pub async fn start_discovery(&self, spec: ServiceSpec) -> Result<Discovery> {
        self.check_open()?;
        super::service::start(&self.client, spec).await
    }

    /// The options the engine was connected with.
    pub fn options(&self) -> &NatsOptions {
        &self.options
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
            self.options.subscription_buffer_bytes,
            self.stats.clone(),
        ))
    }

    /// Flushes everything buffered and waits for a server round trip, so subscriptions made
    /// before this call are live on the server when it resolves. async-nats' own `flush` only
    /// empties the socket buffer and has no PING of its own, so the round trip is a request to a
    /// subject nobody serves (`_CATGA.PING.<id>`): the server answers "no responders" at once,
    /// or, for a user not allowed to publish there, a permissions violation naming the subject.
    /// It processes one connection's protocol in order, so either answer proves the SUBs before
    /// it were seen, and a least-privilege user needs no extra permission.
    pub async fn flush(&self) -> Result<()> {
        // Bounded as a whole: while async-nats reconnects it takes no commands at all.
        let timed_out = || CatgaError::new(ErrorCode::Timeout, "the server did not answer a flush in time");
        let probe = format!("_CATGA.PING.{}", self.client.new_inbox().trim_start_matches("_INBOX."));
        let mut changes = self.permissions.watch();
        let round_trip = async {
            self.client.flush().await.map_err(|e| transport("flush", e))?;
            let request = async_nats::Request::new().timeout(Some(self.options.request_timeout));
            let answered = async {
                match self.client.send_request(probe.clone(), request).await {
                    Ok(_) => Ok(()),
                    Err(err) if err.kind() == RequestErrorKind::NoResponders => Ok(()),
                    Err(err) if err.kind() == RequestErrorKind::TimedOut => Err(timed_out()),
                    Err(err) => Err(transport("flush", err)),
                }
            };
            tokio::select! {
                outcome = answered => outcome,
                _ = self.permissions.denied(&probe, &mut changes) => Ok(()),
            }
        };
        let outcome =
            tokio::time::timeout(self.options.request_timeout, round_trip).await.unwrap_or_else(|_| Err(timed_out()));
        // Each probe subject is used once: its refusal need not be remembered.
        self.permissions.forget_denied(&probe);
        if outcome.is_ok() {
            self.let_refusals_land().await;
        }
        outcome
    }

    /// Returns once the refusals the server sent before the answer just received are recorded.
    ///
    /// A refusal reaches the engine as a status event, through async-nats' event task; the
    /// probe's answer reaches `flush` through its own task. The server sends them in order and
    /// async-nats wakes the two tasks in that order, but the answer's task tends to run first:
    /// with no wait, 20 of 20 refused publishes in `__test__/nats/permissions.test.ts` ("a deny
    /// list") were confirmed. One yield lets the woken event task run on a single worker (the
    /// addon's default), except when tokio's maintenance pass (every 61 ticks) wakes the yielded
    /// task ahead of the queue: 1-2 % missed. Two yields: none of 1,500 missed (500 publishes to
    /// a deny-listed subject, three times, on one worker). With more workers the event task may
    /// be running on another one: a millisecond covers that (a yield alone missed ~1 in 100).
    /// Callers pay this once per flush, and publishes once per new subject.
    async fn let_refusals_land(&self) {
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let workers = tokio::runtime::Handle::try_current().map_or(1, |handle| handle.metrics().num_workers());
        if workers > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
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
        // `drain()` resolves once async-nats has taken the command (its handler then ends each
        // subscription at the server's PONG, crates/vendor/async-nats/PATCHED.md); while it
        // reconnects it takes no command at all, so without a bound close would wait for as long
        // as reconnecting takes (forever with maxReconnects -1).
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
