//! NATS KV buckets, used as inbox / idempotency and saga stores: batched gets and puts so a batch
//! of message ids costs one N-API crossing, revision-checked writes for claims and saga instances
//! (a write that lands only when the key is still at the revision the writer read), and key
//! listing by pattern (saga instances by saga).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::{Operation, Store, UpdateErrorKind};
use async_nats::jetstream::stream::{Config as StreamConfig, DiscardPolicy, StorageType};
use async_nats::jetstream::Context;
use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::TryStreamExt;

use super::jetstream::{default_duplicate_window, lost_create_race};
use super::permissions::Permissions;
use crate::error::{CatgaError, ErrorCode, Result};

/// A KV failure of `what`, coded `CATGA_TRANSPORT`, with async-nats' error as the cause.
fn kv_error(what: &str, err: impl std::error::Error + Send + Sync + 'static) -> CatgaError {
    CatgaError::new(ErrorCode::Transport, format!("{what}: {err}")).with_cause(err)
}

/// Opens the bucket, creating it when missing. `max_age` bounds how long any entry is kept
/// (zero keeps entries until overwritten); an existing bucket must have the same max age and
/// storage, else this is an error naming both.
pub async fn bucket(js: &Context, name: &str, max_age: Duration, memory: bool) -> Result<KvBucket> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(CatgaError::invalid_argument("bucket", "must be letters, digits, - or _"));
    }
    // The bucket's stream is created directly, as KV does it: async-nats' `create_key_value`
    // first queries account info in a shape older servers (2.9) do not answer.
    let stream = StreamConfig {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        duplicate_window: default_duplicate_window(max_age),
        storage: if memory { StorageType::Memory } else { StorageType::File },
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    };
    let storage = stream.storage;
    // Two instances opening a missing bucket together both find no stream and both create it;
    // the slower one is refused ("name in use" or "subjects overlap") although the bucket now
    // exists: asking again finds it (as `ensure_stream` does). A real overlap fails every time.
    let mut races_lost = 0;
    let created = loop {
        match js.get_or_create_stream(stream.clone()).await {
            Ok(created) => break created,
            Err(error) if races_lost < 2 && lost_create_race(&error) => races_lost += 1,
            Err(error) => return Err(kv_error(&format!("KV bucket {name}"), error)),
        }
    };
    // An existing bucket is used only with the settings this store was given: its max age is the
    // limit the store checks TTLs against, and rewriting it would cut short what other stores of
    // the same bucket keep.
    let existing = &created.cached_info().config;
    if existing.max_age != max_age || existing.storage != storage {
        let (have, want) = (existing.max_age.as_millis(), max_age.as_millis());
        return Err(CatgaError::invalid_argument(
            "bucket",
            format!(
                "KV bucket {name} exists with maxAgeMs {have} and {:?} storage, this store asks for maxAgeMs {want} and {storage:?} storage: pass the bucket's settings (or delete the bucket to change them)",
                existing.storage
            ),
        ));
    }
    let store = js.get_key_value(name).await.map_err(|e| kv_error(&format!("KV bucket {name}"), e))?;
    Ok(KvBucket { store, permissions: None })
}

/// An open KV bucket.
pub struct KvBucket {
    store: Store,
    /// The connection's record of refused publishes: a KV call the server refuses is answered
    /// by an asynchronous permissions violation, never by a reply, so without this the call
    /// would wait for its whole timeout.
    permissions: Option<Arc<Permissions>>,
}

impl KvBucket {
    /// Makes calls fail with `CATGA_PERMISSION_DENIED` as soon as the server refuses one of
    /// their publishes (see [`Permissions`]).
    pub(crate) fn refused_by(mut self, permissions: Arc<Permissions>) -> Self {
        self.permissions = Some(permissions);
        self
    }

    /// Runs `call`, which publishes to `subject`; fails at once if the server refuses that.
    async fn refusable<T>(&self, subject: String, call: impl Future<Output = Result<T>>) -> Result<T> {
        let Some(permissions) = &self.permissions else { return call.await };
        let mut changes = permissions.watch();
        tokio::select! {
            outcome = call => outcome,
            refusal = permissions.denied(&subject, &mut changes) => Err(refusal),
        }
    }

    /// The subject a write to `key` is published to (as async-nats' `Store::put` builds it; a
    /// bucket from another account or domain has a put prefix and no JetStream prefix here).
    fn put_subject(&self, key: &str) -> String {
        format!("{}{key}", self.store.put_prefix.as_ref().unwrap_or(&self.store.prefix))
    }

    /// The subject a read of `key` asks (a direct get of the key's last message).
    fn get_subject(&self, key: &str) -> String {
        format!("$JS.API.DIRECT.GET.{}.{}{key}", self.store.stream_name, self.store.prefix)
    }

    /// Reads keys concurrently; `None` where a key has no value.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        join_all(keys.iter().map(|key| {
            self.refusable(self.get_subject(key), async {
                self.store.get(key.clone()).await.map_err(|e| kv_error("KV get", e))
            })
        }))
        .await
        .into_iter()
        .collect()
    }

    /// Writes entries concurrently; fails if any write fails (the rest may have been written).
    pub async fn put_many(&self, entries: &[(&str, &[u8])]) -> Result<()> {
        let writes = join_all(entries.iter().map(|(key, value)| {
            self.refusable(self.put_subject(key), async {
                self.store.put(*key, Bytes::copy_from_slice(value)).await.map_err(|e| kv_error("KV put", e))
            })
        }))
        .await;
        for write in writes {
            write?;
        }
        Ok(())
    }

    /// The key's latest value and revision; `None` when the key was never written. A deleted or
    /// purged key answers an empty value with the marker's revision (so it can be swapped).
    pub async fn entry(&self, key: &str) -> Result<Option<(Bytes, u64)>> {
        let entry = self
            .refusable(self.get_subject(key), async {
                self.store.entry(key).await.map_err(|e| kv_error("KV entry", e))
            })
            .await?;
        Ok(entry.map(|entry| match entry.operation {
            Operation::Put => (entry.value, entry.revision),
            Operation::Delete | Operation::Purge => (Bytes::new(), entry.revision),
        }))
    }

    /// Writes `value` only if the key's latest revision is `revision` (0: the key has never been
    /// written). The new revision, or `None` when another write got there first.
    pub async fn swap(&self, key: &str, value: &[u8], revision: u64) -> Result<Option<u64>> {
        self.refusable(self.put_subject(key), async {
            match self.store.update(key, Bytes::copy_from_slice(value), revision).await {
                Ok(revision) => Ok(Some(revision)),
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
                Err(e) => Err(kv_error("KV swap", e)),
            }
        })
        .await
    }

    /// The keys matching `pattern` (KV key tokens separated by `.`, `*` for one token, `>` for the
    /// rest), sorted, at most `max_keys`. Read from the stream's subject index (one request per page
    /// of subjects, no consumer). Deleted or purged keys are listed too (their marker is the last
    /// message): `entry` answers them with an empty value.
    pub async fn keys(&self, pattern: &str, max_keys: usize) -> Result<Vec<String>> {
        check_pattern(pattern)?;
        let prefix = self.store.prefix.as_str();
        let subjects = self
            .store
            .stream
            .info_with_subjects(format!("{prefix}{pattern}"))
            .await
            .map_err(|e| kv_error("KV keys", e))?;
        let mut keys: Vec<String> = Vec::new();
        let mut subjects = std::pin::pin!(subjects);
        while let Some((subject, _count)) = subjects.try_next().await.map_err(|e| kv_error("KV keys", e))? {
            if keys.len() == max_keys {
                return Err(CatgaError::new(
                    ErrorCode::Limit,
                    format!("KV keys: more than {max_keys} keys match {pattern}"),
                ));
            }
            if let Some(key) = subject.strip_prefix(prefix) {
                keys.push(key.to_string());
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }
}

/// A key pattern: non-empty tokens of KV key characters, `*` for a whole token, `>` as the last.
pub(crate) fn check_pattern(pattern: &str) -> Result<()> {
    let tokens: Vec<&str> = pattern.split('.').collect();
    let last = tokens.len() - 1;
    let valid = tokens.iter().enumerate().all(|(i, token)| {
        *token == "*"
            || (*token == ">" && i == last)
            || (!token.is_empty()
                && token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '=')))
    });
    if valid {
        Ok(())
    } else {
        Err(CatgaError::invalid_argument(
            "pattern",
            "must be '.'-separated tokens of letters, digits, - _ / =, or * (one token), or > (last token)",
        ))
    }
}

#[cfg(test)]
#[path = "kv_tests.rs"]
mod tests;
