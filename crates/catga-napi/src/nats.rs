//! The NATS connection as a JS class: connecting, publishing, flushing, closing, status events
//! and counters. Requests are in [`crate::requests`], subscriptions in [`crate::subscription`],
//! option conversion in [`crate::nats_options`].

use std::sync::Arc;

use catga_core::nats::{ConnectionEvent, NatsEngine, PublishMode};
use napi::bindgen_prelude::{Buffer, Uint32Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

use crate::buffers::slices;
use crate::error::{into_async, invalid_argument, to_js_async};
use crate::nats_options::{to_options, NatsOptionsInput};
use crate::requests::RepliesSlot;
use crate::subscription::{reply_groups_of, ReplyGroupJs, UnsettledBatches};

/// A connection status change.
#[napi(object)]
pub struct ConnectionEventJs {
    /// connected | disconnected | reconnecting | reconnected | lameDuck | slowConsumer | draining | closed | error
    pub kind: String,
    pub attempt: Option<u32>,
    pub message: Option<String>,
}

impl From<ConnectionEvent> for ConnectionEventJs {
    fn from(event: ConnectionEvent) -> Self {
        let kind = event.name().to_owned();
        match event {
            ConnectionEvent::Reconnecting { attempt } => {
                Self { kind, attempt: Some(attempt.min(u32::MAX as usize) as u32), message: None }
            }
            ConnectionEvent::Error(message) => Self { kind, attempt: None, message: Some(message) },
            _ => Self { kind, attempt: None, message: None },
        }
    }
}

/// Engine counters, read in bulk.
#[napi(object)]
pub struct NatsStatsJs {
    pub messages_sent: f64,
    pub frames_sent: f64,
    pub bytes_sent: f64,
    pub bytes_before_compression: f64,
    /// Envelopes received (the unit of `messagesSent`).
    pub messages_received: f64,
    /// NATS messages received: frames and single envelopes (the unit of `framesSent`).
    pub frames_received: f64,
    pub batches_delivered: f64,
    pub malformed_received: f64,
    pub requests: f64,
    pub request_failures: f64,
    pub backpressure_waits: f64,
    pub backpressure_rejections: f64,
    pub reconnects: f64,
    /// NATS messages dropped on receipt by this client (a subscription's buffer was full): exact
    /// past `subscriptionBufferBytes`, a lower bound when async-nats' own channel overflowed.
    pub frames_dropped: f64,
}

type EventCallback = ThreadsafeFunction<ConnectionEventJs, (), ConnectionEventJs, Status, false, true>;

/// Connects to NATS. `onEvent` receives connection status changes.
#[napi]
pub async fn connect_nats(
    options: NatsOptionsInput,
    #[napi(ts_arg_type = "(event: ConnectionEventJs) => void")] on_event: EventCallback,
) -> napi::Result<NatsClient> {
    let options = to_options(options).map_err(into_async)?;
    let on_event = Arc::new(on_event);
    let sink = Arc::new(move |event: ConnectionEvent| {
        on_event.call(event.into(), ThreadsafeFunctionCallMode::NonBlocking);
    });
    let engine = NatsEngine::connect(options, sink).await.map_err(to_js_async)?;
    Ok(NatsClient {
        engine: Arc::new(engine),
        on_replies: RepliesSlot::default(),
        unsettled: UnsettledBatches::default(),
    })
}

/// A NATS connection owned by the addon's tokio runtime.
#[napi]
pub struct NatsClient {
    pub(crate) engine: Arc<NatsEngine>,
    /// Where finished batched requests report; set by `onReplies`.
    pub(crate) on_replies: RepliesSlot,
    /// Inbound batches JS is handling (see `settleBatch`).
    pub(crate) unsettled: UnsettledBatches,
}

#[napi]
impl NatsClient {
    /// Publishes envelopes `data[offsets[2i]..][..offsets[2i+1]]` to `subjects[subjectIndex[i]]`.
    /// `framed` groups them per subject into CTG1 frames (events); otherwise one message each
    /// (replies), except that replies to members of `replyGroups` (`<group>.<i>`, from an inbound
    /// batch's `replyGroups`) go back as one positional frame per group.
    /// Resolves with the subjects the server refused (their envelopes were not delivered), or
    /// null; only framed publishes are checked (see `NatsEngine::publish`).
    #[napi]
    pub async fn publish(
        &self,
        subjects: Vec<String>,
        subject_index: Uint32Array,
        data: Buffer,
        offsets: Uint32Array,
        framed: bool,
        reply_groups: Option<Vec<ReplyGroupJs>>,
    ) -> napi::Result<Option<Vec<String>>> {
        let envelopes = slices(&data, &offsets).map_err(into_async)?;
        if envelopes.len() != subject_index.len() {
            return Err(into_async(invalid_argument("subjectIndex", "must have one entry per envelope")));
        }
        let mut items = Vec::with_capacity(envelopes.len());
        for (i, envelope) in envelopes.into_iter().enumerate() {
            let subject = subjects
                .get(subject_index[i] as usize)
                .ok_or_else(|| into_async(invalid_argument(&format!("subjectIndex[{i}]"), "points past subjects")))?;
            items.push((subject.as_str(), envelope));
        }
        let groups = reply_groups_of(reply_groups);
        if !framed && !groups.is_empty() {
            self.engine.publish_replies(&items, &groups).await.map_err(to_js_async)?;
            return Ok(None);
        }
        let mode = if framed { PublishMode::Events } else { PublishMode::Replies };
        let outcome = self.engine.publish(&items, mode).await.map_err(to_js_async)?;
        Ok((!outcome.denied.is_empty()).then_some(outcome.denied))
    }

    /// Flushes buffered messages to the server.
    #[napi]
    pub async fn flush(&self) -> napi::Result<()> {
        self.engine.flush().await.map_err(to_js_async)
    }

    /// Subjects the server refused to subscribe this connection to (permissions), so far.
    #[napi]
    pub fn refused_subscriptions(&self) -> Vec<String> {
        self.engine.refused_subscriptions()
    }

    /// Graceful close: refuse new work, finish in-flight requests and publishes, flush, drain.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        self.engine.close().await.map_err(to_js_async)
    }

    #[napi(getter)]
    pub fn connected(&self) -> bool {
        self.engine.is_connected()
    }

    #[napi]
    pub fn stats(&self) -> NatsStatsJs {
        let s = self.engine.stats();
        NatsStatsJs {
            messages_sent: s.messages_sent as f64,
            frames_sent: s.frames_sent as f64,
            bytes_sent: s.bytes_sent as f64,
            bytes_before_compression: s.bytes_before_compression as f64,
            messages_received: s.messages_received as f64,
            frames_received: s.frames_received as f64,
            batches_delivered: s.batches_delivered as f64,
            malformed_received: s.malformed_received as f64,
            requests: s.requests as f64,
            request_failures: s.request_failures as f64,
            backpressure_waits: s.backpressure_waits as f64,
            backpressure_rejections: s.backpressure_rejections as f64,
            reconnects: s.reconnects as f64,
            frames_dropped: s.frames_dropped as f64,
        }
    }
}
