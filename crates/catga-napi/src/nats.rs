//! NATS engine binding. Outbound: one call per flushed batch (one Buffer + offsets). Inbound:
//! one ThreadsafeFunction call per batch (one Buffer + offsets); Rust awaits the Promise the JS
//! handler returns before delivering the next batch, so a slow consumer slows delivery instead
//! of growing a queue in JS.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use catga_core::nats::{
    batch_buffers, BackpressurePolicy, BatchRequest, Completion, ConnectionEvent, InboundBatch, NatsEngine,
    NatsOptions, TlsOptions,
};
use napi::bindgen_prelude::{Buffer, BufferSlice, ToNapiValue, TypeName, Uint32Array, ValueType};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Env;
use napi::Status;
use napi_derive::napi;
use tokio::sync::watch;

use crate::error::{into_async, invalid_argument, to_js, to_js_async, Result};
use crate::options::{frame_options, FrameOptionsInput};

#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct TlsInput {
    pub required: Option<bool>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// Connection and engine options (validated field by field in TS before they get here).
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct NatsOptionsInput {
    pub servers: Vec<String>,
    pub name: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    pub nkey_seed: Option<String>,
    pub credentials_file: Option<String>,
    pub tls: Option<TlsInput>,
    /// -1 (default) retries forever.
    pub max_reconnects: Option<i32>,
    pub reconnect_delay_ms: Option<u32>,
    pub reconnect_delay_max_ms: Option<u32>,
    pub ping_interval_ms: Option<u32>,
    pub connect_timeout_ms: Option<u32>,
    pub request_timeout_ms: Option<u32>,
    pub max_in_flight_requests: Option<u32>,
    pub max_pending_bytes: Option<u32>,
    /// `wait` (default) or `reject`.
    pub backpressure: Option<String>,
    /// `wait` (default) or `reject`.
    pub when_disconnected: Option<String>,
    pub no_echo: Option<bool>,
    pub frame: Option<FrameOptionsInput>,
    pub inbound_batch_max: Option<u32>,
    pub subscription_capacity: Option<u32>,
    /// Most requests per framed group (64); 1 sends each request as its own NATS message.
    pub requests_per_frame: Option<u32>,
    /// Event frames are cut at about this many bytes (16 KiB).
    pub event_frame_bytes: Option<u32>,
}

fn policy(field: &str, value: Option<&str>) -> Result<BackpressurePolicy> {
    match value {
        None | Some("wait") => Ok(BackpressurePolicy::Wait),
        Some("reject") => Ok(BackpressurePolicy::Reject),
        Some(other) => Err(invalid_argument(field, format!("must be \"wait\" or \"reject\", got {other:?}"))),
    }
}

fn millis(value: Option<u32>, default: Duration) -> Duration {
    value.map_or(default, |ms| Duration::from_millis(u64::from(ms)))
}

fn to_options(input: NatsOptionsInput) -> Result<NatsOptions> {
    let d = NatsOptions::default();
    let tls = input.tls.unwrap_or_default();
    let options = NatsOptions {
        servers: input.servers,
        name: input.name,
        user: input.user,
        password: input.pass,
        token: input.token,
        nkey_seed: input.nkey_seed,
        credentials_file: input.credentials_file.map(PathBuf::from),
        tls: TlsOptions {
            required: tls.required.unwrap_or(false),
            ca_file: tls.ca_file.map(PathBuf::from),
            cert_file: tls.cert_file.map(PathBuf::from),
            key_file: tls.key_file.map(PathBuf::from),
        },
        max_reconnects: match input.max_reconnects {
            None | Some(-1) => None,
            // async-nats reads Some(0) as "no limit", so 0 is refused rather than silently unlimited.
            Some(n) if n >= 1 => Some(n as usize),
            Some(n) => return Err(invalid_argument("maxReconnects", format!("must be -1 (forever) or >= 1, got {n}"))),
        },
        reconnect_delay_initial: millis(input.reconnect_delay_ms, d.reconnect_delay_initial),
        reconnect_delay_max: millis(input.reconnect_delay_max_ms, d.reconnect_delay_max),
        ping_interval: millis(input.ping_interval_ms, d.ping_interval),
        connect_timeout: millis(input.connect_timeout_ms, d.connect_timeout),
        request_timeout: millis(input.request_timeout_ms, d.request_timeout),
        max_in_flight_requests: input.max_in_flight_requests.map_or(d.max_in_flight_requests, |n| n as usize),
        max_pending_bytes: input.max_pending_bytes.map_or(d.max_pending_bytes, |n| n as usize),
        backpressure: policy("backpressure", input.backpressure.as_deref())?,
        when_disconnected: policy("whenDisconnected", input.when_disconnected.as_deref())?,
        no_echo: input.no_echo.unwrap_or(d.no_echo),
        frame: frame_options(input.frame.as_ref())?,
        inbound_batch_max: input.inbound_batch_max.map_or(d.inbound_batch_max, |n| n as usize),
        subscription_capacity: input.subscription_capacity.map_or(d.subscription_capacity, |n| n as usize),
        requests_per_frame: input.requests_per_frame.map_or(d.requests_per_frame, |n| n as usize),
        event_frame_bytes: input.event_frame_bytes.map_or(d.event_frame_bytes, |n| n as usize),
    };
    options.validate().map_err(to_js)?;
    Ok(options)
}

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

/// Bytes handed to JS as a Buffer without copying: the Buffer is an external view over the
/// `Bytes` (a received frame, or the batch's own vector), released when JS collects it.
pub enum SharedBuffer {
    /// Bytes received from NATS (a zero-copy frame); freed when JS collects the Buffer.
    Shared(Bytes),
    /// A batch buffer; handed back to `batch_buffers` for reuse when JS collects the Buffer.
    Owned(Vec<u8>),
}

impl TypeName for SharedBuffer {
    fn type_name() -> &'static str {
        "Buffer"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for SharedBuffer {
    unsafe fn to_napi_value(env: napi::sys::napi_env, mut val: Self) -> napi::Result<napi::sys::napi_value> {
        // JS may write through the Buffer: the Vec's pointer is taken as mutable. `Bytes` has no
        // mutable access; its range is this Buffer's alone and Rust never reads it again.
        let (data, len) = match &mut val {
            SharedBuffer::Shared(bytes) => (bytes.as_ptr().cast_mut(), bytes.len()),
            SharedBuffer::Owned(vec) => (vec.as_mut_ptr(), vec.len()),
        };
        if len == 0 {
            // An external buffer needs a non-null pointer; an empty Buffer costs nothing to copy.
            return unsafe { Buffer::to_napi_value(env, Buffer::from(Vec::new())) };
        }
        let env = Env::from_raw(env);
        // SAFETY: `data..data+len` is owned by `val` (moving a Vec or Bytes does not move its
        // heap bytes), which the finalizer keeps alive until JS collects the Buffer; no Rust code
        // reads or writes these bytes after this point.
        let slice = match val {
            SharedBuffer::Shared(bytes) => unsafe {
                BufferSlice::from_external(&env, data, len, bytes, |_env, bytes: Bytes| drop(bytes))
            },
            SharedBuffer::Owned(vec) => unsafe {
                BufferSlice::from_external(&env, data, len, vec, |_env, vec: Vec<u8>| batch_buffers::give(vec))
            },
        }?;
        unsafe { <&BufferSlice<'_>>::to_napi_value(env.raw(), &slice) }
    }
}

/// Envelopes received together: envelope i is `data.subarray(offsets[2i], offsets[2i] + offsets[2i+1])`.
#[napi(object, object_from_js = false)]
pub struct InboundBatchJs {
    #[napi(ts_type = "Buffer")]
    pub data: SharedBuffer,
    pub offsets: Uint32Array,
    /// Reply subject per envelope; null when no envelope of the batch came as a request (events),
    /// which spares building an array of nulls per batch.
    pub replies: Option<Vec<Option<String>>>,
    pub malformed: u32,
    pub malformed_reason: Option<String>,
    /// Pass to `settleBatch` once the batch is handled; the subscription's next batch waits for it.
    pub token: u32,
}

impl InboundBatchJs {
    /// The batch as JS gets it, settled later with `token`.
    fn new(batch: InboundBatch, token: u32) -> Self {
        Self {
            data: match batch.shared {
                Some(bytes) => {
                    // An adopted frame leaves the batch's own (recycled) buffer unused.
                    batch_buffers::give(batch.data);
                    SharedBuffer::Shared(bytes)
                }
                None => SharedBuffer::Owned(batch.data),
            },
            offsets: Uint32Array::new(batch.offsets),
            replies: batch.replies.iter().any(Option::is_some).then_some(batch.replies),
            malformed: batch.malformed,
            malformed_reason: batch.malformed_reason,
            token,
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
    pub messages_received: f64,
    pub batches_delivered: f64,
    pub malformed_received: f64,
    pub requests: f64,
    pub request_failures: f64,
    pub backpressure_waits: f64,
    pub backpressure_rejections: f64,
    pub reconnects: f64,
}

type EventCallback = ThreadsafeFunction<ConnectionEventJs, (), ConnectionEventJs, Status, false, true>;
/// Replies a handler returns with its batch: envelope i goes to `subjects[i]`, one NATS message
/// each. Returning them (instead of calling `publish`) saves a crossing and a task per batch.
#[napi(object)]
pub struct ReplyBatchJs {
    pub subjects: Vec<String>,
    pub data: Buffer,
    pub offsets: Uint32Array,
}

/// Called once per inbound batch and not waited on: JS reports the batch handled with
/// `settleBatch(token, replies)`. A returned Promise would cost two more thread wake-ups per batch
/// (napi-rs sends the Promise, then its outcome, then releases it on the JS thread): at one
/// request in flight that was ~90 µs of the responder's latency.
type BatchCallback = ThreadsafeFunction<InboundBatchJs, (), InboundBatchJs, Status, false>;

/// Batches handed to JS and not settled yet, by token, with where their replies go.
#[derive(Default)]
struct Unsettled {
    next: u32,
    waiting: std::collections::HashMap<u32, tokio::sync::oneshot::Sender<Option<ReplyBatchJs>>>,
}

type UnsettledBatches = Arc<std::sync::Mutex<Unsettled>>;

/// Takes the reply slot of an unsettled batch; `None` when the token is unknown or already settled.
fn take_unsettled(
    unsettled: &UnsettledBatches,
    token: u32,
) -> Option<tokio::sync::oneshot::Sender<Option<ReplyBatchJs>>> {
    unsettled.lock().ok().and_then(|mut unsettled| unsettled.waiting.remove(&token))
}

/// A token for a batch about to go to JS, and the receiver of its replies.
fn register(unsettled: &UnsettledBatches) -> Option<(u32, tokio::sync::oneshot::Receiver<Option<ReplyBatchJs>>)> {
    let mut unsettled = unsettled.lock().ok()?;
    let token = unsettled.next;
    unsettled.next = unsettled.next.wrapping_add(1);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    unsettled.waiting.insert(token, sender);
    Some((token, receiver))
}

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
        on_replies: std::sync::Mutex::new(None),
        unsettled: UnsettledBatches::default(),
    })
}

/// A NATS connection owned by the addon's tokio runtime.
#[napi]
pub struct NatsClient {
    pub(crate) engine: Arc<NatsEngine>,
    /// Where finished batched requests report; set by `onReplies`.
    on_replies: std::sync::Mutex<Option<Arc<RepliesCallback>>>,
    /// Inbound batches JS is handling (see `settleBatch`).
    unsettled: UnsettledBatches,
}

/// Finished requests delivered together: reply i (for `ids[i]`) is
/// `data.subarray(offsets[2i], offsets[2i] + offsets[2i+1])`, or `codes[i]`/`messages[i]` when it failed.
#[napi(object)]
pub struct RepliesJs {
    pub ids: Uint32Array,
    pub data: Buffer,
    pub offsets: Uint32Array,
    pub codes: Vec<Option<String>>,
    pub messages: Vec<Option<String>>,
}

type RepliesCallback = ThreadsafeFunction<RepliesJs, (), RepliesJs, Status, false, true>;

/// Reports finished requests to JS in one call. The task that finished them calls this itself
/// (a framed group reports all its members at once), so no extra task hop sits between the reply
/// and JS; the threadsafe function queues calls, and JS drains them in one wake-up.
fn deliver(on_replies: &RepliesCallback, finished: Vec<Completion>) {
    let mut ids = Vec::with_capacity(finished.len());
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(finished.len() * 2);
    let mut codes = Vec::with_capacity(finished.len());
    let mut messages = Vec::with_capacity(finished.len());
    for (id, outcome) in finished {
        ids.push(id);
        offsets.push(data.len() as u32);
        match outcome {
            Ok(reply) => {
                offsets.push(reply.len() as u32);
                data.extend_from_slice(&reply);
                codes.push(None);
                messages.push(None);
            }
            Err(err) => {
                offsets.push(0);
                codes.push(Some(err.code.as_str().to_owned()));
                messages.push(Some(err.message));
            }
        }
    }
    let replies = RepliesJs {
        ids: Uint32Array::new(ids),
        data: data.into(),
        offsets: Uint32Array::new(offsets),
        codes,
        messages,
    };
    on_replies.call(replies, ThreadsafeFunctionCallMode::NonBlocking);
}

pub(crate) fn slices<'a>(data: &'a [u8], offsets: &[u32]) -> Result<Vec<&'a [u8]>> {
    if !offsets.len().is_multiple_of(2) {
        return Err(invalid_argument("offsets", "must hold (start, length) pairs"));
    }
    offsets
        .chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| {
            let (start, len) = (pair[0] as usize, pair[1] as usize);
            data.get(start..start.saturating_add(len)).ok_or_else(|| {
                invalid_argument(
                    &format!("offsets[{}]", 2 * i),
                    format!("{start}+{len} is outside data ({} bytes)", data.len()),
                )
            })
        })
        .collect()
}

async fn send_replies(
    engine: &NatsEngine,
    replies: &ReplyBatchJs,
    reply_groups: &[(String, u32)],
) -> std::result::Result<(), catga_core::CatgaError> {
    let Ok(envelopes) = slices(&replies.data, &replies.offsets) else {
        return Err(catga_core::CatgaError::invalid_argument("replies.offsets", "outside data"));
    };
    let items: Vec<(&str, &[u8])> = replies.subjects.iter().map(String::as_str).zip(envelopes).collect();
    engine.publish_replies(&items, reply_groups).await
}

#[napi]
impl NatsClient {
    /// Publishes envelopes `data[offsets[2i]..][..offsets[2i+1]]` to `subjects[subjectIndex[i]]`.
    /// `framed` groups them per subject into CTG1 frames (events); otherwise one message each (replies).
    #[napi]
    pub async fn publish(
        &self,
        subjects: Vec<String>,
        subject_index: Uint32Array,
        data: Buffer,
        offsets: Uint32Array,
        framed: bool,
    ) -> napi::Result<()> {
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
        self.engine.publish(&items, framed).await.map_err(to_js_async)
    }

    /// Registers where batched requests report (once per connection): one call per group of
    /// finished requests.
    #[napi]
    pub fn on_replies(
        &self,
        #[napi(ts_arg_type = "(replies: RepliesJs) => void")] on_replies: RepliesCallback,
    ) -> Result<()> {
        match self.on_replies.lock() {
            Ok(mut slot) => *slot = Some(Arc::new(on_replies)),
            Err(_) => return Err(invalid_argument("onReplies", "the connection's state is poisoned")),
        }
        Ok(())
    }

    /// Starts many requests in one call; each reports through `onReplies` with its id when it
    /// finishes. Request i is `data[offsets[2i]..][..offsets[2i+1]]` to `subjects[subjectIndex[i]]`.
    #[napi]
    pub fn request_batch(
        &self,
        ids: Uint32Array,
        subjects: Vec<String>,
        subject_index: Uint32Array,
        data: Buffer,
        offsets: Uint32Array,
        timeout_ms: Option<u32>,
    ) -> Result<()> {
        let envelopes = slices(&data, &offsets)?;
        if envelopes.len() != ids.len() || envelopes.len() != subject_index.len() {
            return Err(invalid_argument("ids", "must have one entry per request"));
        }
        let sender = match self.on_replies.lock() {
            Ok(slot) => slot.clone(),
            Err(_) => None,
        };
        let Some(sender) = sender else {
            return Err(invalid_argument("onReplies", "must be registered before requestBatch"));
        };
        let timeout = timeout_ms.map(|ms| Duration::from_millis(u64::from(ms)));
        let requests: Vec<BatchRequest<'_>> = envelopes
            .into_iter()
            .enumerate()
            .map(|(i, envelope)| BatchRequest { id: ids[i], subject: subject_index[i], envelope })
            .collect();
        // Planned (and framed) before anything is sent: a bad subject index sends nothing.
        for job in self.engine.plan_requests(&subjects, &requests).map_err(to_js)? {
            let (engine, sender) = (self.engine.clone(), sender.clone());
            napi::bindgen_prelude::spawn(async move {
                job.run(&engine, timeout, |finished| deliver(&sender, finished)).await;
            });
        }
        Ok(())
    }

    /// Subscribes (in a queue group when `queue` is set). `onBatch` is called once per batch and
    /// must end by calling `settleBatch(batch.token, replies)`; the next batch is delivered after.
    #[napi]
    pub async fn subscribe(
        &self,
        subject: String,
        queue: Option<String>,
        #[napi(ts_arg_type = "(batch: InboundBatchJs) => void")] on_batch: BatchCallback,
    ) -> napi::Result<NatsSubscription> {
        let mut subscription = self.engine.subscribe(&subject, queue.as_deref()).await.map_err(to_js_async)?;
        let engine = self.engine.clone();
        let unsettled = self.unsettled.clone();
        let (stop, mut stopped) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        napi::bindgen_prelude::spawn(async move {
            // Set once stopping: what was received is delivered until then. While the server is
            // unreachable async-nats cannot drain, so stopping never waits past this deadline.
            let mut drain_deadline: Option<tokio::time::Instant> = None;
            loop {
                let batch = if let Some(deadline) = drain_deadline {
                    match tokio::time::timeout_at(deadline, subscription.next_batch()).await {
                        Ok(batch) => batch,
                        Err(_) => break,
                    }
                } else {
                    tokio::select! {
                        batch = subscription.next_batch() => batch,
                        _ = stopped.changed() => {
                            let deadline = tokio::time::Instant::now() + engine.options().request_timeout;
                            drain_deadline = Some(deadline);
                            if tokio::time::timeout_at(deadline, subscription.drain()).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    }
                };
                let Some(mut batch) = batch else { break };
                let reply_groups = std::mem::take(&mut batch.reply_groups);
                let Some((token, settled)) = register(&unsettled) else { break };
                let js_batch = InboundBatchJs::new(batch, token);
                if on_batch.call(js_batch, ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                    // JS is going away: nobody will settle this batch.
                    take_unsettled(&unsettled, token);
                    continue;
                }
                // A failed handler settles with no replies; the subscription goes on either way.
                if let Ok(Some(replies)) = settled.await {
                    // Failures to reply surface to the requester as its own timeout.
                    let _ = send_replies(&engine, &replies, &reply_groups).await;
                }
            }
            let _ = done_tx.send(true);
        });
        Ok(NatsSubscription { stop, done: done_rx })
    }

    /// Reports an inbound batch handled (see `subscribe`), with the replies its handler returned.
    /// An unknown or already settled token is ignored.
    #[napi]
    pub fn settle_batch(&self, token: u32, replies: Option<ReplyBatchJs>) {
        if let Some(sender) = take_unsettled(&self.unsettled, token) {
            let _ = sender.send(replies); // a subscription that ended has dropped its receiver
        }
    }

    /// Flushes buffered messages to the server.
    #[napi]
    pub async fn flush(&self) -> napi::Result<()> {
        self.engine.flush().await.map_err(to_js_async)
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
            batches_delivered: s.batches_delivered as f64,
            malformed_received: s.malformed_received as f64,
            requests: s.requests as f64,
            request_failures: s.request_failures as f64,
            backpressure_waits: s.backpressure_waits as f64,
            backpressure_rejections: s.backpressure_rejections as f64,
            reconnects: s.reconnects as f64,
        }
    }
}

/// A live subscription; `drain()` stops delivery after what was already received.
#[napi]
pub struct NatsSubscription {
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) done: watch::Receiver<bool>,
}

#[napi]
impl NatsSubscription {
    /// Stops taking messages, delivers what was already received, resolves when delivery ended.
    #[napi]
    pub async fn drain(&self) -> napi::Result<()> {
        let _ = self.stop.send(true);
        let mut done = self.done.clone();
        let _ = done.wait_for(|ended| *ended).await;
        Ok(())
    }
}
