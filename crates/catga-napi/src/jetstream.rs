//! JetStream binding: stream provisioning and durable publish with per-message outcomes. Durable
//! consumers are in `consumer.rs`.

use std::time::Duration;

use catga_core::nats::jetstream::{default_duplicate_window, delete_stream, ensure_stream, Retention, StreamSpec};
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
    /// When stored messages are removed (see `StreamOptions.retention`).
    #[napi(ts_type = "'limits' | 'interest' | 'workqueue'")]
    pub retention: Option<String>,
    pub max_age_ms: Option<f64>,
    pub max_messages: Option<f64>,
    pub max_bytes: Option<f64>,
    pub replicas: Option<u32>,
    pub duplicate_window_ms: Option<f64>,
    /// Where messages are kept (see `StreamOptions.storage`).
    #[napi(ts_type = "'file' | 'memory'")]
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

/// The JS names of the retention policies, both ways.
const RETENTIONS: [(&str, Retention); 3] =
    [("limits", Retention::Limits), ("interest", Retention::Interest), ("workqueue", Retention::WorkQueue)];
/// The JS names of the storage kinds, both ways (`true` is memory).
const STORAGES: [(&str, bool); 2] = [("file", false), ("memory", true)];

fn name_of<T: PartialEq>(names: &[(&'static str, T)], value: &T) -> Option<String> {
    names.iter().find(|(_, v)| v == value).map(|(name, _)| (*name).to_owned())
}

fn value_of<T: Copy>(names: &[(&str, T)], name: &str, field: &str, allowed: &str) -> napi::Result<T> {
    names
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| into_async(invalid_argument(field, format!("must be {allowed}, got {name:?}"))))
}

fn millis(ms: Option<f64>, field: &str, default: Duration) -> napi::Result<Duration> {
    match ms {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_millis(v as u64)),
        Some(v) => Err(into_async(invalid_argument(field, format!("must be a non-negative number of ms, got {v}")))),
    }
}

/// What a stream gets for each field left out, under the JS option names: `StreamSpec::new` of
/// catga-core, checked against the TS table `STREAM_DEFAULTS` by __test__/native/defaults.test.ts.
/// A stream whose `maxAgeMs` is shorter than the duplicate window gets its max age as the window.
#[napi]
pub fn stream_defaults() -> StreamSpecInput {
    let d = StreamSpec::new(String::new(), Vec::new());
    StreamSpecInput {
        name: d.name,
        subjects: d.subjects,
        retention: name_of(&RETENTIONS, &d.retention),
        max_age_ms: Some(d.max_age.as_millis() as f64),
        max_messages: Some(d.max_messages as f64),
        max_bytes: Some(d.max_bytes as f64),
        replicas: Some(u32::try_from(d.replicas).unwrap_or(u32::MAX)),
        duplicate_window_ms: Some(d.duplicate_window.as_millis() as f64),
        storage: name_of(&STORAGES, &d.memory),
    }
}

fn stream_spec(input: StreamSpecInput) -> napi::Result<StreamSpec> {
    let d = StreamSpec::new(input.name, input.subjects);
    let retention = match input.retention.as_deref() {
        None => d.retention,
        Some(name) => value_of(&RETENTIONS, name, "stream.retention", "limits, interest or workqueue")?,
    };
    let memory = match input.storage.as_deref() {
        None => d.memory,
        Some(name) => value_of(&STORAGES, name, "stream.storage", "file or memory")?,
    };
    let max_age = millis(input.max_age_ms, "stream.maxAgeMs", d.max_age)?;
    Ok(StreamSpec {
        retention,
        max_age,
        max_messages: input.max_messages.map_or(d.max_messages, |v| v as i64),
        max_bytes: input.max_bytes.map_or(d.max_bytes, |v| v as i64),
        replicas: input.replicas.map_or(d.replicas, |v| v as usize),
        duplicate_window: millis(
            input.duplicate_window_ms,
            "stream.duplicateWindowMs",
            default_duplicate_window(max_age),
        )?,
        memory,
        ..d
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
