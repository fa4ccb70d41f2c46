//! NATS KV buckets, used as inbox / idempotency stores: batched gets and puts so a batch of
//! message ids costs one N-API crossing.

use std::time::Duration;

use async_nats::jetstream::kv::Store;
use async_nats::jetstream::stream::{Config as StreamConfig, DiscardPolicy, StorageType};
use async_nats::jetstream::Context;
use bytes::Bytes;
use futures_util::future::join_all;

use crate::error::{CatgaError, ErrorCode, Result};

fn kv_error(what: &str, err: impl std::fmt::Display) -> CatgaError {
    CatgaError::new(ErrorCode::Transport, format!("{what}: {err}"))
}

/// Opens the bucket, creating it when missing. `max_age` bounds how long any entry is kept
/// (zero keeps entries until overwritten).
pub async fn bucket(js: &Context, name: &str, max_age: Duration, memory: bool) -> Result<KvBucket> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(CatgaError::invalid_argument("bucket", "must be letters, digits, - or _"));
    }
    // The bucket's stream is created (or brought in line) directly, as KV does it: async-nats'
    // `create_key_value` first queries account info in a shape older servers (2.9) do not answer.
    // An existing bucket gets this `max_age`, so the limit a store checks TTLs against is the one
    // the server applies; a storage type cannot change and is reported.
    let stream = StreamConfig {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        duplicate_window: if max_age.is_zero() {
            Duration::from_secs(120)
        } else {
            max_age.min(Duration::from_secs(120))
        },
        storage: if memory { StorageType::Memory } else { StorageType::File },
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    };
    {
        use async_nats::jetstream::context::CreateStreamErrorKind as K;
        js.create_or_update_stream(stream).await.map_err(|e| match e.kind() {
            K::JetStream(_) => CatgaError::invalid_argument(
                "bucket",
                format!("KV bucket {name} cannot take these settings (an existing bucket keeps its storage): {e}"),
            ),
            K::TimedOut => CatgaError::new(ErrorCode::Timeout, format!("KV bucket {name}: {e}")),
            _ => kv_error(&format!("KV bucket {name}"), e),
        })?;
    }
    js.get_key_value(name).await.map(KvBucket).map_err(|e| kv_error(&format!("KV bucket {name}"), e))
}

/// An open KV bucket.
pub struct KvBucket(Store);

impl KvBucket {
    /// Reads keys concurrently; `None` where a key has no value.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        get_many(&self.0, keys).await
    }

    /// Writes entries concurrently; fails if any write fails (the rest may have been written).
    pub async fn put_many(&self, entries: &[(&str, &[u8])]) -> Result<()> {
        put_many(&self.0, entries).await
    }
}

async fn get_many(store: &Store, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
    join_all(keys.iter().map(|key| store.get(key.clone())))
        .await
        .into_iter()
        .map(|read| read.map_err(|e| kv_error("KV get", e)))
        .collect()
}

async fn put_many(store: &Store, entries: &[(&str, &[u8])]) -> Result<()> {
    let writes = join_all(entries.iter().map(|(key, value)| store.put(*key, Bytes::copy_from_slice(value)))).await;
    for write in writes {
        write.map_err(|e| kv_error("KV put", e))?;
    }
    Ok(())
}
