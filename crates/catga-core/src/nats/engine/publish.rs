//! Publishing: events framed per subject (each subject's first publish confirmed, see
//! `publish_events`), replies one message each or back in their request group's frame, durable
//! (JetStream) publishes. Invariant: every subject is checked before the first message goes out,
//! so a bad one never leaves a batch half sent, and an event publish reports every subject the
//! server refused instead of resolving as if it had been delivered.

use std::collections::HashMap;

use bytes::Bytes;

use super::NatsEngine;
use crate::error::{CatgaError, ErrorCode, Result};
use crate::frame::{split_into_frames, FrameCut};
use crate::nats::errors::publish_error;
use crate::nats::request_frames::frame_replies;
use crate::nats::stats::Stats;

/// How [`NatsEngine::publish`] sends a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishMode {
    /// Framed per subject (`CTG1`), each subject's first publish confirmed (refusals reported).
    Events,
    /// One NATS message per envelope, unconfirmed: reply subjects are used once, so a round trip
    /// per subject would cost one per reply.
    Replies,
}

/// What the server made of a publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOutcome {
    /// Subjects the server does not let this connection publish to: their envelopes in this
    /// publish were not delivered.
    pub denied: Vec<String>,
}

impl NatsEngine {
    /// Durable publish through the same admission bounds as core publishes; the whole call,
    /// admission included, settles within the durable publish timeout (see
    /// [`crate::nats::jetstream::publish_durable`]).
    pub async fn publish_durable(
        &self,
        items: &[(&str, &str, &[u8])],
    ) -> Result<Vec<Result<crate::nats::jetstream::PublishReceipt>>> {
        self.check_open()?;
        let deadline = crate::nats::jetstream::PublishDeadline::after(self.options.durable_publish_timeout);
        let total: usize = items.iter().map(|(_, _, bytes)| bytes.len()).sum();
        let _permit = match tokio::time::timeout_at(deadline.at(), self.admit_bytes(total, items.len())).await {
            Ok(permit) => permit?,
            Err(_) => {
                let waited = deadline.timeout().as_millis();
                let message = format!("no room under maxPendingBytes for a durable publish within {waited} ms");
                return Err(CatgaError::new(ErrorCode::Timeout, message));
            }
        };
        let max_in_flight = self.options.max_in_flight_requests.min(1024);
        let outcomes = crate::nats::durable_publish::publish_durable_checked(
            &self.jetstream,
            items,
            max_in_flight,
            deadline,
            crate::nats::jetstream::PublishRetry::default(),
            Some(&self.permissions),
        )
        .await;
        Stats::add(&self.stats.messages_sent, outcomes.iter().filter(|o| o.is_ok()).count() as u64);
        Stats::add(&self.stats.bytes_sent, total as u64);
        Ok(outcomes)
    }

    /// Publishes envelopes as `mode` says. Resolves once the client has accepted every message,
    /// with the subjects the server refused (their envelopes were not delivered; only
    /// [`PublishMode::Events`] finds them, see [`Self::publish_events`]).
    pub async fn publish(&self, items: &[(&str, &[u8])], mode: PublishMode) -> Result<PublishOutcome> {
        self.check_open()?;
        // Checked before anything goes out: async-nats would refuse the bad one midway, after
        // sending those before it and never sending those after it.
        let mut last_checked = None;
        for (subject, _) in items {
            if last_checked != Some(*subject) {
                check_publish_subject(subject)?;
                last_checked = Some(*subject);
            }
        }
        match mode {
            PublishMode::Events => self.publish_events(items).await,
            PublishMode::Replies => self.publish_singles(items).await.map(|()| PublishOutcome::default()),
        }
    }

    /// Events, framed per subject. A subject refused before on this connection is not sent. The
    /// first publish to each subject is confirmed by a server round trip after it: the server
    /// handles one connection's protocol in order, so a refusal of the publish arrives before the
    /// round trip's answer. A subject that passed is not checked again until reconnect, so steady
    /// traffic pays one lock and one set lookup per subject per batch (benches/RESULTS.md,
    /// "Permission checks").
    async fn publish_events(&self, items: &[(&str, &[u8])]) -> Result<PublishOutcome> {
        let groups = group_by_subject(items);
        let sorted = self.permissions.sort(groups.iter().map(|(subject, _)| *subject));
        let mut denied: Vec<String> = sorted.denied.iter().map(|s| (*s).to_owned()).collect();
        let allowed: Vec<(&str, Vec<&[u8]>)> =
            groups.into_iter().filter(|(subject, _)| !sorted.denied.contains(subject)).collect();
        let envelopes: usize = allowed.iter().map(|(_, envelopes)| envelopes.len()).sum();
        let total: usize = allowed.iter().flat_map(|(_, envelopes)| envelopes.iter().map(|e| e.len())).sum();
        if envelopes == 0 {
            return Ok(PublishOutcome { denied });
        }
        let _permit = self.admit_bytes(total, envelopes).await?;
        // Every frame is made before the first goes out, so one that cannot be made (an envelope
        // past the limits) fails the whole publish rather than leaving it half sent.
        let frame_options = self.frame_options();
        let mut frames = Vec::new();
        for (subject, group) in allowed {
            for (frame, _) in split_into_frames(group, self.event_frame_cut(), frame_options)? {
                frames.push((subject, frame));
            }
        }
        for (subject, frame) in frames {
            Stats::add(&self.stats.frames_sent, 1);
            self.send(subject, Bytes::from(frame)).await?;
        }
        Stats::add(&self.stats.messages_sent, envelopes as u64);
        Stats::add(&self.stats.bytes_before_compression, total as u64);
        if !sorted.unconfirmed.is_empty() {
            denied.extend(self.confirm(&sorted.unconfirmed).await);
        }
        Ok(PublishOutcome { denied })
    }

    /// Waits for a server round trip after publishing to `subjects` and returns those the server
    /// refused meanwhile; the others are confirmed. Without an answer (disconnected, slow server)
    /// nothing is confirmed or refused: the publish stands, and the next one checks again.
    async fn confirm(&self, subjects: &[&str]) -> Vec<String> {
        // flush() also waits until refusals the server sent before its answer are recorded.
        if !self.is_connected() || self.flush().await.is_err() {
            return Vec::new();
        }
        let (refused, passed): (Vec<&str>, Vec<&str>) =
            subjects.iter().copied().partition(|subject| self.permissions.is_denied(subject));
        self.permissions.confirm(passed);
        refused.into_iter().map(str::to_owned).collect()
    }

    /// Envelopes one NATS message each (replies).
    async fn publish_singles(&self, items: &[(&str, &[u8])]) -> Result<()> {
        let total: usize = items.iter().map(|(_, bytes)| bytes.len()).sum();
        let _permit = self.admit_bytes(total, items.len()).await?;
        for (subject, bytes) in items {
            self.send(subject, Bytes::copy_from_slice(bytes)).await?;
        }
        Stats::add(&self.stats.messages_sent, items.len() as u64);
        Stats::add(&self.stats.bytes_before_compression, total as u64);
        Ok(())
    }

    async fn send(&self, subject: &str, payload: Bytes) -> Result<()> {
        Stats::add(&self.stats.bytes_sent, payload.len() as u64);
        self.client.publish(subject.to_owned(), payload).await.map_err(|e| publish_error(subject, e))
    }

    /// Publishes the replies a handler returned with its batch: replies to members of a framed
    /// request group (`reply_groups`, see the `request_frames` module) go back as one frame per
    /// group, the others one NATS message each.
    pub async fn publish_replies(&self, items: &[(&str, &[u8])], reply_groups: &[(String, u32)]) -> Result<()> {
        // One reply to a bad subject (the host's mistake) must not hold back the others.
        let (valid, invalid): (Vec<(&str, &[u8])>, Vec<_>) =
            items.iter().copied().partition(|(subject, _)| check_publish_subject(subject).is_ok());
        let sent = self.publish_valid_replies(&valid, reply_groups).await;
        if invalid.is_empty() {
            return sent;
        }
        sent.and(Err(CatgaError::invalid_argument(
            "replies.subjects",
            format!("{} replies had subjects that are not valid NATS subjects and were not sent", invalid.len()),
        )))
    }

    async fn publish_valid_replies(&self, items: &[(&str, &[u8])], reply_groups: &[(String, u32)]) -> Result<()> {
        if reply_groups.is_empty() {
            return self.publish_replies_singly(items).await;
        }
        let (frames, singles) = frame_replies(items, reply_groups, self.frame_options());
        if !frames.is_empty() {
            self.check_open()?;
            let total: usize = frames.iter().map(|(_, frame)| frame.len()).sum();
            let replies = items.len().saturating_sub(singles.len());
            let _permit = self.admit_bytes(total, replies).await?;
            for (subject, frame) in frames {
                Stats::add(&self.stats.frames_sent, 1);
                self.send(subject, Bytes::from(frame)).await?;
            }
            Stats::add(&self.stats.messages_sent, (items.len() - singles.len()) as u64);
            let framed_bytes: usize = items.iter().map(|(_, bytes)| bytes.len()).sum::<usize>()
                - singles.iter().map(|(_, b)| b.len()).sum::<usize>();
            Stats::add(&self.stats.bytes_before_compression, framed_bytes as u64);
        }
        if singles.is_empty() {
            Ok(())
        } else {
            self.publish_replies_singly(&singles).await
        }
    }

    async fn publish_replies_singly(&self, items: &[(&str, &[u8])]) -> Result<()> {
        self.publish(items, PublishMode::Replies).await.map(|_| ())
    }

    fn event_frame_cut(&self) -> FrameCut {
        FrameCut { max_envelopes: usize::MAX, target_bytes: self.options.event_frame_bytes }
    }
}

/// Envelopes per subject, subjects in order of first appearance.
fn group_by_subject<'a, 'b>(items: &[(&'a str, &'b [u8])]) -> Vec<(&'a str, Vec<&'b [u8]>)> {
    // Batches are mostly runs of one subject, so the last slot is tried before hashing.
    let mut groups: Vec<(&'a str, Vec<&'b [u8]>)> = Vec::new();
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut last: Option<(&str, usize)> = None;
    for &(subject, bytes) in items {
        let slot = match last {
            Some((previous, slot)) if previous == subject => slot,
            _ => *index.entry(subject).or_insert_with(|| {
                groups.push((subject, Vec::new()));
                groups.len() - 1
            }),
        };
        last = Some((subject, slot));
        groups[slot].1.push(bytes);
    }
    groups
}

/// What async-nats accepts as a publish subject: non-empty, no leading or trailing dot, no empty
/// token, no space, tab, CR or LF (its own check is crate-private).
pub(crate) fn check_publish_subject(subject: &str) -> Result<()> {
    let valid = !subject.is_empty()
        && !subject.starts_with('.')
        && !subject.ends_with('.')
        && !subject.contains("..")
        && !subject.contains([' ', '\t', '\r', '\n']);
    if valid {
        Ok(())
    } else {
        Err(CatgaError::invalid_argument("subject", format!("{subject:?} is not a valid NATS subject")))
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
