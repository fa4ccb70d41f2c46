//! JetStream binding: stream provisioning, durable publish with per-message outcomes, and durable
//! pull consumers delivered one batch per ThreadsafeFunction call. JS answers each batch with one
//! decision per message (ack, nak with delay, or dead-letter); Rust applies them.

use std::collections::HashMap;
use std::time::Duration;

use catga_core::nats::jetstream::{
    delete_stream, durable_consumer, ensure_stream, settle_all, ConsumerSpec, Decision, Retention, StreamSpec,
};
use napi::bindgen_prelude::{Buffer, Promise, Uint32Array};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use napi_derive::napi;
use tokio::sync::watch;

use crate::buffers::slices;
use crate::error::{into_async, invalid_argument, to_js_async};
use crate::nats::NatsClient;
use crate::subscription::NatsSubscription;

/// How long a message waits before coming back when the host gave no decision for its batch.
const UNDECIDED_RETRY_DELAY: Duration = Duration::from_secs(1);

#[napi(object)]
#[derive(Debug, Clone)]
pub struct StreamSpecInput {
    pub name: String,
    pub subjects: Vec<String>,
    /// limits (default) | interest | workqueue
    pub retention: Option<String>,
    pub max_age_ms: Option<f64>,
    pub max_messages: Option<f64>,
    pub max_bytes: Option<f64>,
    pub replicas: Option<u32>,
    pub duplicate_window_ms: Option<f64>,
    /// file (default) | memory
    pub storage: Option<String>,
}

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

#[napi(object)]
pub struct DurablePublishOutcome {
    pub ok: bool,
    pub sequence: Option<f64>,
    pub duplicate: Option<bool>,
    pub code: Option<String>,
    pub message: Option<String>,
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
    /// ack | nak | dlq
    pub action: String,
    pub delay_ms: Option<u32>,
    /// Dead-letter subject (for `dlq`).
    pub subject: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

fn millis(ms: Option<f64>, field: &str, default: Duration) -> napi::Result<Duration> {
    match ms {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_millis(v as u64)),
        Some(v) => Err(into_async(invalid_argument(field, format!("must be a non-negative number of ms, got {v}")))),
    }
}

fn stream_spec(input: StreamSpecInput) -> napi::Result<StreamSpec> {
    let retention = match input.retention.as_deref() {
        None | Some("limits") => Retention::Limits,
        Some("interest") => Retention::Interest,
        Some("workqueue") => Retention::WorkQueue,
        Some(other) => {
            return Err(into_async(invalid_argument(
                "stream.retention",
                format!("must be limits, interest or workqueue, got {other:?}"),
            )))
        }
    };
    let memory = match input.storage.as_deref() {
        None | Some("file") => false,
        Some("memory") => true,
        Some(other) => {
            return Err(into_async(invalid_argument(
                "stream.storage",
                format!("must be file or memory, got {other:?}"),
            )))
        }
    };
    let max_age = millis(input.max_age_ms, "stream.maxAgeMs", Duration::ZERO)?;
    // The server refuses a dedupe window longer than max age, so the default fits inside it.
    let default_window = match max_age {
        Duration::ZERO => Duration::from_secs(120),
        age => age.min(Duration::from_secs(120)),
    };
    Ok(StreamSpec {
        name: input.name,
        subjects: input.subjects,
        retention,
        max_age,
        max_messages: input.max_messages.map_or(-1, |v| v as i64),
        max_bytes: input.max_bytes.map_or(-1, |v| v as i64),
        replicas: input.replicas.unwrap_or(1) as usize,
        duplicate_window: millis(input.duplicate_window_ms, "stream.duplicateWindowMs", default_window)?,
        memory,
    })
}

fn consumer_spec(input: ConsumerSpecInput) -> ConsumerSpec {
    let ms = |v: Option<u32>, d: u64| Duration::from_millis(v.map_or(d, u64::from));
    ConsumerSpec {
        stream: input.stream,
        durable: input.durable,
        filter_subject: input.filter_subject,
        ack_wait: ms(input.ack_wait_ms, 30_000),
        max_deliver: i64::from(input.max_deliver.unwrap_or(5)),
        backoff: input
            .backoff_ms
            .unwrap_or_default()
            .into_iter()
            .map(|v| Duration::from_millis(u64::from(v)))
            .collect(),
        max_ack_pending: i64::from(input.max_ack_pending.unwrap_or(1000)),
        batch: input.batch.unwrap_or(256) as usize,
        fetch_wait: ms(input.fetch_wait_ms, 1000),
    }
}

fn decision(js: DecisionJs) -> Decision {
    match js.action.as_str() {
        "ack" => Decision::Ack,
        "dlq" => Decision::DeadLetter {
            subject: js.subject.unwrap_or_else(|| "catga.dlq.unknown".to_owned()),
            code: js.code.unwrap_or_else(|| "CATGA_HANDLER_FAILED".to_owned()),
            message: js.message.unwrap_or_default(),
        },
        // Anything else (including "nak") is retried: a typo must never lose a message.
        _ => Decision::Nak(js.delay_ms.map(|ms| Duration::from_millis(u64::from(ms)))),
    }
}

type DurableCallback = ThreadsafeFunction<DurableBatchJs, Promise<Vec<DecisionJs>>, DurableBatchJs, Status, false>;

#[napi]
impl NatsClient {
    /// Creates or updates a JetStream stream (idempotent).
    #[napi]
    pub async fn ensure_stream(&self, spec: StreamSpecInput) -> napi::Result<()> {
        let spec = stream_spec(spec)?;
        ensure_stream(self.engine.jetstream(), &spec).await.map_err(to_js_async)
    }

    /// Deletes a stream and its messages; resolves with whether it existed.
    #[napi]
    pub async fn delete_stream(&self, name: String) -> napi::Result<bool> {
        delete_stream(self.engine.jetstream(), &name).await.map_err(to_js_async)
    }

    /// Publishes envelopes durably, each with `Nats-Msg-Id` = its message id; resolves with one
    /// outcome per envelope once every ack (or failure) is in.
    #[napi]
    pub async fn publish_durable(
        &self,
        subjects: Vec<String>,
        subject_index: Uint32Array,
        message_ids: Vec<String>,
        data: Buffer,
        offsets: Uint32Array,
    ) -> napi::Result<Vec<DurablePublishOutcome>> {
        let envelopes = slices(&data, &offsets).map_err(into_async)?;
        if envelopes.len() != subject_index.len() || envelopes.len() != message_ids.len() {
            return Err(into_async(invalid_argument("messageIds", "must have one entry per envelope")));
        }
        let mut items = Vec::with_capacity(envelopes.len());
        for (i, envelope) in envelopes.into_iter().enumerate() {
            let subject = subjects
                .get(subject_index[i] as usize)
                .ok_or_else(|| into_async(invalid_argument(&format!("subjectIndex[{i}]"), "points past subjects")))?;
            items.push((subject.as_str(), message_ids[i].as_str(), envelope));
        }
        let outcomes = self.engine.publish_durable(&items).await.map_err(to_js_async)?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(receipt) => DurablePublishOutcome {
                    ok: true,
                    sequence: Some(receipt.sequence as f64),
                    duplicate: Some(receipt.duplicate),
                    code: None,
                    message: None,
                },
                Err(err) => DurablePublishOutcome {
                    ok: false,
                    sequence: None,
                    duplicate: None,
                    code: Some(err.code.as_str().to_owned()),
                    message: Some(err.message),
                },
            })
            .collect())
    }

    /// Runs a durable pull consumer: fetch a batch, hand it to `onBatch` (one call), apply the
    /// decisions it resolves with, repeat. Survives broker restarts (fetch errors back off and
    /// retry). `drain()` on the result stops after the batch in hand.
    #[napi]
    pub async fn consume(
        &self,
        spec: ConsumerSpecInput,
        #[napi(ts_arg_type = "(batch: DurableBatchJs) => Promise<Array<DecisionJs>>")] on_batch: DurableCallback,
    ) -> napi::Result<NatsSubscription> {
        self.engine.check_accepting().map_err(to_js_async)?;
        let spec = consumer_spec(spec);
        let js = self.engine.jetstream().clone();
        let consumer = durable_consumer(&js, &spec, self.engine.options().frame.limits).await.map_err(to_js_async)?;
        let (stop, mut stopped) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        napi::bindgen_prelude::spawn(async move {
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
                        // Broker down or restarting: wait and fetch again; the consumer is durable.
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {},
                            _ = stopped.changed() => break,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                };
                if deliveries.is_empty() && malformed == 0 {
                    continue;
                }
                let mut data = Vec::new();
                let mut offsets = Vec::with_capacity(deliveries.len() * 2);
                for delivery in &deliveries {
                    offsets.push(data.len() as u32);
                    offsets.push(delivery.message.payload.len() as u32);
                    data.extend_from_slice(&delivery.message.payload);
                }
                let batch = DurableBatchJs {
                    data: data.into(),
                    offsets: Uint32Array::new(offsets),
                    subjects: deliveries.iter().map(|d| d.message.subject.to_string()).collect(),
                    deliveries: Uint32Array::new(deliveries.iter().map(|d| d.delivered).collect()),
                    sequences: deliveries.iter().map(|d| d.stream_sequence as f64).collect(),
                    headers: deliveries.iter().map(|d| d.headers().into_iter().collect()).collect(),
                    malformed,
                };
                let decisions = match on_batch.call_async_catch(batch).await {
                    Ok(promise) => promise.await.unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
                let mut decisions = decisions.into_iter().map(decision);
                // A missing decision (the host failed the batch) means retry, never loss; after a
                // pause, so a batch that always fails cannot spin (the server's own limit is off).
                let planned: Vec<Decision> = deliveries
                    .iter()
                    .map(|_| decisions.next().unwrap_or(Decision::Nak(Some(UNDECIDED_RETRY_DELAY))))
                    .collect();
                // Acks of one batch are confirmed concurrently: one after another they cost a
                // server round trip each (~97 % of consumer time, benches/RESULTS.md). A batch
                // is at most 4096 messages, so this stays bounded.
                settle_all(&js, &deliveries, &planned).await;
            }
            let _ = done_tx.send(true);
        });
        Ok(NatsSubscription { stop, done })
    }
}
