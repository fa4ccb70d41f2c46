//! Durable pull consumers: one batch per ThreadsafeFunction call, answered by JS with one decision
//! per message (ack, nak with delay, dead-letter, or hold). Held messages stay unsettled, kept
//! from redelivery by in-progress acks, until JS settles them one by one (`settle`); see
//! `catga_core::nats::held` for the order they keep.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use catga_core::nats::held::{keep_alive, release, Deciding, Held};
use catga_core::nats::jetstream::{
    durable_consumer, settle_all, ConsumerSpec, ConsumerState, Context, Decision, Delivery, DurableConsumer,
};
use napi::bindgen_prelude::{Buffer, Promise, Uint32Array};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use napi_derive::napi;
use tokio::sync::watch;

use crate::error::{into_async, invalid_argument, to_js_async};
use crate::nats::NatsClient;

/// The longest pause between failed fetches (the pause starts at 50 ms and doubles).
const FETCH_RETRY_MAX: Duration = Duration::from_millis(500);

/// How long a message waits before coming back when the host gave no decision for its batch.
const UNDECIDED_RETRY_DELAY: Duration = Duration::from_secs(1);

#[napi(object)]
#[derive(Debug, Clone)]
pub struct ConsumerSpecInput {
    pub stream: String,
    pub durable: String,
    pub filter_subject: Option<String>,
    pub ack_wait_ms: Option<u32>,
    pub max_deliver: Option<i32>,
    pub backoff_ms: Option<Vec<u32>>,
    pub max_ack_pending: Option<i32>,
    pub batch: Option<u32>,
    pub fetch_wait_ms: Option<u32>,
}

/// Messages of one fetch: envelope i is `data.subarray(offsets[2i], offsets[2i] + offsets[2i+1])`.
#[napi(object)]
pub struct DurableBatchJs {
    pub data: Buffer,
    pub offsets: Uint32Array,
    pub subjects: Vec<String>,
    /// Delivery count per message (1 on first delivery).
    pub deliveries: Uint32Array,
    pub sequences: Vec<f64>,
    /// NATS headers per message (dead letters carry Catga-Error-Code, Catga-Error-Message,
    /// Catga-Deliveries, Catga-Original-Subject).
    pub headers: Vec<HashMap<String, String>>,
    /// Non-Catga messages that were terminated (never redelivered).
    pub malformed: u32,
}

/// The fate of one delivered message.
#[napi(object)]
pub struct DecisionJs {
    /// ack, nak (redeliver after `delayMs`), dlq (dead-letter), or hold (settled later by sequence)
    #[napi(ts_type = "'ack' | 'nak' | 'dlq' | 'hold'")]
    pub action: String,
    pub delay_ms: Option<u32>,
    /// Dead-letter subject (for `dlq`).
    pub subject: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    /// Attempts made, for the dead letter's `Catga-Deliveries` (default: the server's count).
    pub deliveries: Option<u32>,
}

/// A durable consumer's position on the server (stream sequences).
#[napi(object)]
pub struct ConsumerStateJs {
    /// Every message up to this stream sequence is acked.
    pub ack_floor: f64,
    /// The highest stream sequence delivered.
    pub delivered: f64,
    /// Messages delivered and not acked yet.
    pub ack_pending: f64,
}

impl From<ConsumerState> for ConsumerStateJs {
    fn from(state: ConsumerState) -> Self {
        Self {
            ack_floor: state.ack_floor as f64,
            delivered: state.delivered as f64,
            ack_pending: state.ack_pending as f64,
        }
    }
}

const DEFAULT_ACK_WAIT_MS: u32 = 30_000;
const DEFAULT_MAX_DELIVER: i32 = 5;
const DEFAULT_MAX_ACK_PENDING: i32 = 1000;
const DEFAULT_BATCH: u32 = 256;
const DEFAULT_FETCH_WAIT_MS: u32 = 1000;

/// What a durable consumer gets for each field left out, under the JS option names (checked
/// against the TS table `CONSUMER_DEFAULTS` by __test__/native/defaults.test.ts).
#[napi]
pub fn consumer_defaults() -> ConsumerSpecInput {
    ConsumerSpecInput {
        stream: String::new(),
        durable: String::new(),
        filter_subject: None,
        ack_wait_ms: Some(DEFAULT_ACK_WAIT_MS),
        max_deliver: Some(DEFAULT_MAX_DELIVER),
        backoff_ms: None,
        max_ack_pending: Some(DEFAULT_MAX_ACK_PENDING),
        batch: Some(DEFAULT_BATCH),
        fetch_wait_ms: Some(DEFAULT_FETCH_WAIT_MS),
    }
}

fn consumer_spec(input: ConsumerSpecInput) -> ConsumerSpec {
    let ms = |v: Option<u32>, d: u32| Duration::from_millis(u64::from(v.unwrap_or(d)));
    ConsumerSpec {
        stream: input.stream,
        durable: input.durable,
        filter_subject: input.filter_subject,
        ack_wait: ms(input.ack_wait_ms, DEFAULT_ACK_WAIT_MS),
        max_deliver: i64::from(input.max_deliver.unwrap_or(DEFAULT_MAX_DELIVER)),
        backoff: input
            .backoff_ms
            .unwrap_or_default()
            .into_iter()
            .map(|v| Duration::from_millis(u64::from(v)))
            .collect(),
        max_ack_pending: i64::from(input.max_ack_pending.unwrap_or(DEFAULT_MAX_ACK_PENDING)),
        batch: input.batch.unwrap_or(DEFAULT_BATCH) as usize,
        fetch_wait: ms(input.fetch_wait_ms, DEFAULT_FETCH_WAIT_MS),
    }
}

/// `None` for `hold`: JS settles the message later.
fn decision(js: DecisionJs) -> Option<Decision> {
    Some(match js.action.as_str() {
        "ack" => Decision::Ack,
        "hold" => return None,
        "dlq" => Decision::DeadLetter {
            subject: js.subject.unwrap_or_else(|| "catga.dlq.unknown".to_owned()),
            code: js.code.unwrap_or_else(|| "CATGA_HANDLER_FAILED".to_owned()),
            message: js.message.unwrap_or_default(),
            deliveries: js.deliveries,
        },
        // Anything else (including "nak") is retried: a typo must never lose a message.
        _ => Decision::Nak(js.delay_ms.map(|ms| Duration::from_millis(u64::from(ms)))),
    })
}

fn lock<T>(held: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding the lock; if something did, the data is still consistent.
    held.lock().unwrap_or_else(PoisonError::into_inner)
}

type DurableCallback = ThreadsafeFunction<DurableBatchJs, Promise<Vec<DecisionJs>>, DurableBatchJs, Status, false>;

#[napi]
impl NatsClient {
    /// Runs a durable pull consumer: fetch a batch, hand it to `onBatch` (one call), apply the
    /// decisions it resolves with, repeat. Survives broker restarts (fetch errors back off and
    /// retry). `drain()` on the result stops after the batch in hand.
    #[napi]
    pub async fn consume(
        &self,
        spec: ConsumerSpecInput,
        #[napi(ts_arg_type = "(batch: DurableBatchJs) => Promise<Array<DecisionJs>>")] on_batch: DurableCallback,
    ) -> napi::Result<DurableSubscription> {
        self.engine.check_accepting().map_err(to_js_async)?;
        let spec = consumer_spec(spec);
        let js = self.engine.jetstream().clone();
        let consumer =
            Arc::new(durable_consumer(&js, &spec, self.engine.options().frame.limits).await.map_err(to_js_async)?);
        let held = Arc::new(Mutex::new(Held::default()));
        // The fetched batch the host is deciding: kept alive with the held messages, in one pass in
        // stream order (see `Held::messages_with`).
        let deciding: Arc<Mutex<Deciding>> = Arc::default();
        let (stop, mut stopped) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        let (released, mut releasing) = watch::channel(false);
        // Keeps held messages from redelivery: `+WIP` well within the ack wait, until `release`.
        let keep = held.clone();
        let kept_deciding = deciding.clone();
        let every = (spec.ack_wait / 3).max(Duration::from_millis(10));
        napi::bindgen_prelude::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {},
                    _ = releasing.changed() => break,
                }
                let batch = lock(&kept_deciding).clone();
                let messages = lock(&keep).messages_with(&batch);
                keep_alive(&messages).await;
            }
        });
        let fetcher = consumer.clone();
        let holder = held.clone();
        let settler = js.clone();
        let engine = self.engine.clone();
        napi::bindgen_prelude::spawn(async move {
            let consumer = fetcher;
            let js = settler;
            let mut backoff = Duration::from_millis(50);
            loop {
                if *stopped.borrow() {
                    break;
                }
                let fetched = tokio::select! {
                    fetched = consumer.fetch() => fetched,
                    _ = stopped.changed() => break,
                };
                let (deliveries, malformed) = match fetched {
                    Ok(fetched) => {
                        backoff = Duration::from_millis(50);
                        fetched
                    }
                    Err(_) => {
                        // Broker down or restarting, or no consumer leader (an election): wait and
                        // fetch again; the consumer is durable. The cap is what the consumer may
                        // lag behind a finished election or a reconnect (issue 14, item 13).
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {},
                            _ = stopped.changed() => break,
                        }
                        backoff = (backoff * 2).min(FETCH_RETRY_MAX);
                        continue;
                    }
                };
                if deliveries.is_empty() {
                    continue;
                }
                // Non-envelopes count like the engine's own subscriptions count them; JS reports
                // and dead-letters each one.
                engine.record_malformed(u64::from(malformed));
                *lock(&deciding) = deliveries.iter().map(|d| (d.stream_sequence, d.message.clone())).collect();
                let batch = batch_for_js(&deliveries, malformed);
                let decided = async {
                    match on_batch.call_async_catch(batch).await {
                        Ok(promise) => promise.await.unwrap_or_default(),
                        Err(_) => Vec::new(),
                    }
                };
                tokio::pin!(decided);
                // While the handlers run, `+WIP` keeps the batch from redelivery: a handler slower
                // than the ack wait is not run a second time elsewhere (in stream order, as held
                // messages are kept alive).
                let mut in_progress: Option<Vec<_>> = None;
                let decisions = loop {
                    tokio::select! {
                        decisions = &mut decided => break decisions,
                        _ = tokio::time::sleep(every) => {
                            let messages = in_progress
                                .get_or_insert_with(|| deliveries.iter().map(|d| d.message.clone()).collect());
                            keep_alive(messages).await;
                        }
                    }
                };
                lock(&deciding).clear();
                let mut decisions = decisions.into_iter();
                let mut settled = Vec::with_capacity(deliveries.len());
                let mut planned = Vec::with_capacity(deliveries.len());
                for delivery in deliveries {
                    // A missing decision (the host failed the batch) means retry, never loss; after
                    // a pause, so a batch that always fails cannot spin (the server's limit is off).
                    let now = match decisions.next().map_or(Some(Decision::Nak(Some(UNDECIDED_RETRY_DELAY))), decision)
                    {
                        Some(planned_decision) => Some((delivery, planned_decision)),
                        None => lock(&holder).hold(delivery.stream_sequence, delivery),
                    };
                    if let Some((delivery, planned_decision)) = now {
                        settled.push(delivery);
                        planned.push(planned_decision);
                    }
                }
                // Acks of one batch are confirmed concurrently: one after another they cost a
                // server round trip each (~97 % of consumer time, benches/RESULTS.md). A batch
                // is at most 4096 messages, so this stays bounded.
                settle_all(&js, &settled, &planned).await;
            }
            consumer.close_inbox().await;
            let _ = done_tx.send(true);
        });
        Ok(DurableSubscription { stop, done, released, held, js, consumer })
    }
}

fn batch_for_js(deliveries: &[Delivery], malformed: u32) -> DurableBatchJs {
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(deliveries.len() * 2);
    for delivery in deliveries {
        offsets.push(data.len() as u32);
        offsets.push(delivery.message.payload.len() as u32);
        data.extend_from_slice(&delivery.message.payload);
    }
    DurableBatchJs {
        data: data.into(),
        offsets: Uint32Array::new(offsets),
        subjects: deliveries.iter().map(|d| d.message.subject.to_string()).collect(),
        deliveries: Uint32Array::new(deliveries.iter().map(|d| d.delivered).collect()),
        sequences: deliveries.iter().map(|d| d.stream_sequence as f64).collect(),
        headers: deliveries.iter().map(|d| d.headers().into_iter().collect()).collect(),
        malformed,
    }
}

/// A running durable consumer.
#[napi]
pub struct DurableSubscription {
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    released: watch::Sender<bool>,
    held: Arc<Mutex<Held>>,
    js: Context,
    consumer: Arc<DurableConsumer>,
}

#[napi]
impl DurableSubscription {
    /// Stops fetching; resolves once the batch in hand is settled. Held messages stay held (and
    /// kept alive) until `settle` or `release`.
    #[napi]
    pub async fn drain(&self) -> napi::Result<()> {
        let _ = self.stop.send(true);
        let mut done = self.done.clone();
        let _ = done.wait_for(|ended| *ended).await;
        Ok(())
    }

    /// Settles held messages by stream sequence, one decision each (`hold` keeps one held). A
    /// sequence not held yet (its batch is still being decided) is settled when its hold arrives.
    #[napi]
    pub async fn settle(&self, sequences: Vec<f64>, decisions: Vec<DecisionJs>) -> napi::Result<()> {
        if sequences.len() != decisions.len() {
            return Err(into_async(invalid_argument("decisions", "must have one entry per sequence")));
        }
        let mut deliveries = Vec::with_capacity(sequences.len());
        let mut planned = Vec::with_capacity(sequences.len());
        {
            let mut held = lock(&self.held);
            for (sequence, js) in sequences.into_iter().zip(decisions) {
                let Some(planned_decision) = decision(js) else { continue };
                if let Some((delivery, planned_decision)) = held.settle(sequence as u64, planned_decision) {
                    deliveries.push(delivery);
                    planned.push(planned_decision);
                }
            }
        }
        settle_all(&self.js, &deliveries, &planned).await;
        Ok(())
    }

    /// Stops keeping held messages alive and hands them back to the server in stream order (nak
    /// without delay), so they are redelivered in that order. Call after `drain`.
    #[napi]
    pub async fn release(&self) -> napi::Result<()> {
        let _ = self.released.send(true);
        let held = lock(&self.held).take_all();
        release(&held).await;
        Ok(())
    }

    /// Number of messages held.
    #[napi(getter)]
    pub fn held(&self) -> u32 {
        lock(&self.held).len() as u32
    }

    /// The consumer's state when this subscription opened it, before anything was fetched.
    #[napi(getter)]
    pub fn start_state(&self) -> ConsumerStateJs {
        self.consumer.start_state().into()
    }

    /// The consumer's state on the server now (one request).
    #[napi]
    pub async fn state(&self) -> napi::Result<ConsumerStateJs> {
        self.consumer.state().await.map(Into::into).map_err(to_js_async)
    }
}
