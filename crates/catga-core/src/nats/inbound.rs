//! Inbound side: turns NATS messages into batches for JS. Each wake-up takes every message that
//! is already waiting (up to a cap), unframes `CTG1` frames, checks each envelope, and packs them
//! into one buffer plus offsets, so JS is called once per batch however many messages arrived.

use std::sync::Arc;

use async_nats::Subscriber;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use super::request_frames::member_reply_subject;
use super::stats::Stats;
use crate::envelope::{decode_envelope, ENVELOPE_VERSION};
use crate::error::CatgaError;
use crate::frame::{decode_frame, DecodedFrame, FLAG_ZSTD, FRAME_MAGIC};
use crate::limits::Limits;

/// Envelopes received together: envelope `i` is `data[offsets[2i]..][..offsets[2i+1]]`, and
/// `replies[i]` is the reply subject when it came as a request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InboundBatch {
    pub data: Vec<u8>,
    pub offsets: Vec<u32>,
    pub replies: Vec<Option<String>>,
    /// Messages skipped because they were not valid Catga frames or envelopes.
    pub malformed: u32,
    /// The first reason a message was skipped, for the host's log.
    pub malformed_reason: Option<String>,
    /// Framed request groups in this batch: (group reply subject, request count). Their members'
    /// reply subjects are `<reply>.<i>`; the engine frames the replies back per group.
    pub reply_groups: Vec<(String, u32)>,
    /// Set when the batch is one large uncompressed frame handed over as received: `offsets`
    /// then index into these bytes (no copy) and `data` is empty.
    pub shared: Option<Bytes>,
}

impl InboundBatch {
    pub fn len(&self) -> usize {
        self.replies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    fn push(&mut self, envelope: &[u8], reply: Option<String>) {
        self.offsets.push(self.data.len() as u32);
        self.offsets.push(envelope.len() as u32);
        self.data.extend_from_slice(envelope);
        self.replies.push(reply);
    }

    fn skip(&mut self, subject: &str, reason: impl std::fmt::Display) {
        self.malformed += 1;
        if self.malformed_reason.is_none() {
            self.malformed_reason = Some(format!("{subject}: {reason}"));
        }
    }

    /// Takes one large uncompressed frame as the whole batch without copying it: the envelopes
    /// are checked and their offsets point into `payload`. False (and nothing taken) when the
    /// message is not such a frame; small frames are copied so several share one JS call.
    fn adopt_frame(&mut self, payload: &Bytes, subject: &str, reply: Option<&str>, limits: &Limits) -> bool {
        let adoptable = payload.len() >= SHARED_FRAME_BYTES
            && payload.starts_with(&FRAME_MAGIC)
            && payload.get(5).is_some_and(|flags| flags & FLAG_ZSTD == 0);
        if !adoptable {
            return false;
        }
        let frame = match decode_frame(payload, limits) {
            Ok(frame) => frame,
            Err(err) => {
                self.skip(subject, err);
                return true;
            }
        };
        self.take_frame(&frame, subject, reply, true);
        // A frame whose entries were all skipped hands JS nothing to hold on to.
        if !self.offsets.is_empty() {
            self.shared = Some(payload.clone());
        }
        true
    }

    /// Takes a decoded frame's envelopes whose header checks out; the others are counted and
    /// skipped. `in_place` records offsets into the frame itself (its body must be the received
    /// payload, see `adopt_frame`); otherwise each envelope is copied into `data`. A frame with a
    /// reply subject is a framed request group: member i answers on `<reply>.<i>`, i being its
    /// position in the frame, skipped entries included.
    fn take_frame(&mut self, frame: &DecodedFrame<'_>, subject: &str, reply: Option<&str>, in_place: bool) {
        if let Some(reply) = reply {
            self.reply_groups.push((reply.to_owned(), frame.len() as u32));
        }
        if !in_place {
            self.data.reserve(frame.body.len());
        }
        self.offsets.reserve(2 * frame.len());
        self.replies.reserve(frame.len());
        for (index, range) in frame.ranges.iter().enumerate() {
            let envelope = &frame.body[range.clone()];
            if let Err(err) = check_envelope_header(envelope) {
                self.skip(subject, err);
                continue;
            }
            let member = reply.map(|r| member_reply_subject(r, index));
            if in_place {
                self.offsets.push(range.start as u32);
                self.offsets.push(range.len() as u32);
                self.replies.push(member);
            } else {
                self.push(envelope, member);
            }
        }
    }

    /// Adds one NATS message: a frame of envelopes or a single envelope. Bad input is counted and
    /// skipped, never fatal: a foreign publisher must not break the subscription.
    pub fn absorb(&mut self, payload: &[u8], subject: &str, reply: Option<&str>, limits: &Limits) {
        if payload.starts_with(&FRAME_MAGIC) {
            match decode_frame(payload, limits) {
                Ok(frame) => self.take_frame(&frame, subject, reply, false),
                Err(err) => self.skip(subject, err),
            }
        } else {
            match decode_envelope(payload, limits) {
                Ok(_) => self.push(payload, reply.map(str::to_owned)),
                Err(err) => self.skip(subject, err),
            }
        }
    }
}

/// Inside a frame (whose structure and lengths `decode_frame` already checked) only the envelope's
/// header is checked here: a 10-element MessagePack array of version 1. The full decode happens
/// once, on the JS side, instead of twice (it cost ~20 µs per 128-message frame here).
fn check_envelope_header(envelope: &[u8]) -> Result<(), CatgaError> {
    match envelope {
        [0x9a, version, ..] if *version == ENVELOPE_VERSION => Ok(()),
        [0x9a, version, ..] => Err(CatgaError::new(
            crate::error::ErrorCode::UnsupportedVersion,
            format!("envelope version {version} is not supported"),
        )),
        _ => Err(CatgaError::decode("frame entry is not a Catga envelope")),
    }
}

/// Frames at least this large are handed to JS as received (see `adopt_frame`); below it the
/// copy is cheaper than a JS call per frame.
const SHARED_FRAME_BYTES: usize = 16 * 1024;

/// A subscription that yields [`InboundBatch`]es.
pub struct InboundSubscription {
    subscriber: Subscriber,
    limits: Limits,
    max_messages: usize,
    stats: Arc<Stats>,
}

impl InboundSubscription {
    pub(crate) fn new(subscriber: Subscriber, limits: Limits, max_messages: usize, stats: Arc<Stats>) -> Self {
        Self { subscriber, limits, max_messages, stats }
    }

    /// Waits for at least one message, then takes whatever else is already queued. `None` when
    /// the subscription has ended (unsubscribed, drained or connection closed).
    pub async fn next_batch(&mut self) -> Option<InboundBatch> {
        loop {
            let first = self.subscriber.next().await?;
            let mut batch = InboundBatch::default();
            let mut received = 1u64;
            let adopted =
                batch.adopt_frame(&first.payload, first.subject.as_str(), first.reply.as_deref(), &self.limits);
            if !adopted {
                batch.absorb(&first.payload, first.subject.as_str(), first.reply.as_deref(), &self.limits);
            }
            while !adopted && batch.len() < self.max_messages && batch.data.len() < self.limits.max_batch_bytes {
                match self.subscriber.next().now_or_never() {
                    Some(Some(message)) => {
                        received += 1;
                        batch.absorb(
                            &message.payload,
                            message.subject.as_str(),
                            message.reply.as_deref(),
                            &self.limits,
                        );
                    }
                    _ => break,
                }
            }
            Stats::add(&self.stats.malformed_received, u64::from(batch.malformed));
            Stats::add(&self.stats.messages_received, received);
            if !batch.is_empty() || batch.malformed > 0 {
                Stats::add(&self.stats.batches_delivered, 1);
                return Some(batch);
            }
        }
    }

    /// Stops delivery after the messages already received.
    pub async fn drain(&mut self) {
        let _ = self.subscriber.drain().await;
    }

    pub async fn unsubscribe(&mut self) {
        let _ = self.subscriber.unsubscribe().await;
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
