//! NATS KV binding: one crossing per batch of keys.

use std::time::Duration;

use catga_core::nats::kv::KvBucket;
use napi::bindgen_prelude::{Buffer, Uint32Array};
use napi_derive::napi;

use crate::buffers::slices;
use crate::error::{into_async, invalid_argument, to_js_async};
use crate::nats::NatsClient;

/// A key's latest value and revision.
#[napi(object)]
pub struct KvEntry {
    /// Empty when the key was deleted or purged.
    pub value: Buffer,
    /// The value's revision (its stream sequence), to pass to `swap`.
    pub revision: f64,
}

/// Revisions are stream sequences: whole numbers that JS numbers hold exactly up to 2^53.
fn revision(value: f64) -> napi::Result<u64> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 9_007_199_254_740_991.0 {
        Ok(value as u64)
    } else {
        Err(into_async(invalid_argument("revision", "must be a whole number from 0 to 2^53 - 1")))
    }
}

/// A KV bucket on this connection.
#[napi]
pub struct NatsKv {
    store: KvBucket,
}

#[napi]
impl NatsClient {
    /// Opens (or creates) a KV bucket whose entries live at most `maxAgeMs` (0 = no limit).
    #[napi]
    pub async fn key_value(&self, name: String, max_age_ms: f64, memory: bool) -> napi::Result<NatsKv> {
        if !(max_age_ms.is_finite() && max_age_ms >= 0.0) {
            return Err(into_async(invalid_argument("maxAgeMs", "must be a non-negative number")));
        }
        let store = self
            .engine
            .key_value(&name, Duration::from_millis(max_age_ms as u64), memory)
            .await
            .map_err(to_js_async)?;
        Ok(NatsKv { store })
    }
}

#[napi]
impl NatsKv {
    /// Values in key order; null where a key has none.
    #[napi]
    pub async fn get_many(&self, keys: Vec<String>) -> napi::Result<Vec<Option<Buffer>>> {
        let values = self.store.get_many(&keys).await.map_err(to_js_async)?;
        Ok(values.into_iter().map(|v| v.map(|bytes| bytes.to_vec().into())).collect())
    }

    /// Writes `data[offsets[2i]..][..offsets[2i+1]]` under `keys[i]`.
    #[napi]
    pub async fn put_many(&self, keys: Vec<String>, data: Buffer, offsets: Uint32Array) -> napi::Result<()> {
        let values = slices(&data, &offsets).map_err(into_async)?;
        if values.len() != keys.len() {
            return Err(into_async(invalid_argument("keys", "must have one entry per value")));
        }
        let entries: Vec<(&str, &[u8])> = keys.iter().map(String::as_str).zip(values).collect();
        self.store.put_many(&entries).await.map_err(to_js_async)
    }

    /// The key's latest value and revision; null when the key was never written.
    #[napi]
    pub async fn entry(&self, key: String) -> napi::Result<Option<KvEntry>> {
        let entry = self.store.entry(&key).await.map_err(to_js_async)?;
        Ok(entry.map(|(value, revision)| KvEntry { value: value.to_vec().into(), revision: revision as f64 }))
    }

    /// Writes `value` only if the key is still at `revision` (0 = never written): the new
    /// revision, or null when another write came first.
    #[napi]
    pub async fn swap(&self, key: String, value: Buffer, revision_seen: f64) -> napi::Result<Option<f64>> {
        let expected = revision(revision_seen)?;
        let written = self.store.swap(&key, &value, expected).await.map_err(to_js_async)?;
        Ok(written.map(|revision| revision as f64))
    }

    /// The keys matching `pattern` (`.`-separated tokens, `*` one token, `>` the rest), sorted;
    /// CATGA_LIMIT when more than `maxKeys` match.
    #[napi]
    pub async fn keys(&self, pattern: String, max_keys: u32) -> napi::Result<Vec<String>> {
        if max_keys == 0 {
            return Err(into_async(invalid_argument("maxKeys", "must be at least 1")));
        }
        self.store.keys(&pattern, max_keys as usize).await.map_err(to_js_async)
    }
}
