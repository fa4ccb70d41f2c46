//! Publishing: events framed per subject, replies one message each or back in their request
//! group's frame, durable (JetStream) publishes. Invariant: every subject is checked before the
//! first message goes out, so a bad one never leaves a batch half sent.

use std::collections::HashMap;

use bytes::Bytes;

use super::NatsEngine;
use crate::error::{CatgaError, ErrorCode, Result};
use crate::frame::{split_into_frames, FrameCut};
use crate::nats::errors::publish_error;
use crate::nats::request_frames::frame_replies;
use crate::nats::stats::Stats;

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
        let outcomes = crate::nats::jetstream::publish_durable(
            &self.jetstream,
            items,
            max_in_flight,
            deadline,
            crate::nats::jetstream::PublishRetry::default(),
        )
        .await;
        Stats::add(&self.stats.messages_sent, outcomes.iter().filter(|o| o.is_ok()).count() as u64);
        Stats::add(&self.stats.bytes_sent, total as u64);
        Ok(outcomes)
    }

    /// Publishes envelopes. With `framed`, envelopes for the same subject go out together as
    /// `CTG1` frames (split when a frame would pass the batch limits); otherwise each envelope is
    /// one NATS message (replies). Resolves once the client has accepted every message.
    pub async fn publish(&self, items: &[(&str, &[u8])], framed: bool) -> Result<()> {
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
        let total: usize = items.iter().map(|(_, bytes)| bytes.len()).sum();
        let _permit = self.admit_bytes(total, items.len()).await?;
        if framed {
            for (subject, frame) in self.frame_by_subject(items)? {
                Stats::add(&self.stats.frames_sent, 1);
                self.send(subject, Bytes::from(frame)).await?;
            }
        } else {
            for (subject, bytes) in items {
                self.send(subject, Bytes::copy_from_slice(bytes)).await?;
            }
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
            return self.publish(items, false).await;
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
            self.publish(&singles, false).await
        }
    }

    fn event_frame_cut(&self) -> FrameCut {
        FrameCut { max_envelopes: usize::MAX, target_bytes: self.options.event_frame_bytes }
    }

    fn frame_by_subject<'a>(&self, items: &[(&'a str, &[u8])]) -> Result<Vec<(&'a str, Vec<u8>)>> {
        // Envelopes per subject, in order; batches are mostly runs of one subject, so the last
        // slot is tried before hashing.
        let mut groups: Vec<(&'a str, Vec<&[u8]>)> = Vec::new();
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
        let frame_options = self.frame_options();
        let mut frames = Vec::new();
        for (subject, envelopes) in groups {
            for (frame, _) in split_into_frames(envelopes, self.event_frame_cut(), frame_options)? {
                frames.push((subject, frame));
            }
        }
        Ok(frames)
    }
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
