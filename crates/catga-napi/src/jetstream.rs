//! JetStream binding: stream provisioning and durable publish with per-message outcomes. Durable
//! consumers are in `consumer.rs`.

use std::time::Duration;

use catga_core::nats::jetstream::{delete_stream, ensure_stream, Retention, StreamSpec};
use napi::bindgen_prelude::{Buffer, Uint32Array};
use napi_derive::napi;

use crate::buffers::slices;
use crate::error::{into_async, invalid_argument, to_js_async};
use crate::nats::NatsClient;

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
pub struct DurablePublishOutcome {
    pub ok: bool,
    pub sequence: Option<f64>,
    pub duplicate: Option<bool>,
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
}
