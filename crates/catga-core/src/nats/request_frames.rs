//! Framed requests: requests to one subject that start together travel as one `CTG1` frame with
//! one reply subject, and their replies come back as one positional frame. At 64 requests in
//! flight that is two NATS messages per 64 round trips instead of 128, which is what lets request/
//! reply beat a client that sends one message per request.
//!
//! ```text
//! client ── PUB <prefix>.cmd.T  reply=<inbox>.<group>  CTG1[req0, req1, ... reqN-1] ──▶ responder
//! client ◀── PUB <inbox>.<group>  CTG1[rep0, rep1, ... repN-1]  (entry i answers request i;
//!                                 an empty entry means "not in this frame")
//! client ◀── PUB <inbox>.<group>.<i>  rep_i  (a reply sent on its own, e.g. later via `reply()`)
//! ```
//! The responder's engine hands JS each request with the reply subject `<inbox>.<group>.<i>`, so
//! JS code is the same for framed and single requests; the engine puts returned replies back
//! into one frame. One router subscription (`<inbox>.>`) per connection serves every group.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{Client, Message, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, OnceCell};

use super::permissions::Permissions;
use super::stats::Stats;
use crate::error::{CatgaError, ErrorCode, Result};
use crate::frame::{decode_frame, split_into_frames, FrameCut, FrameOptions};
use crate::limits::Limits;

/// What arrived for one group on the router subscription.
enum Arrival {
    Frame(Bytes),
    One(usize, Bytes),
    NoResponders,
}

type Waiting = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Arrival>>>>;

fn lock(waiting: &Waiting) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Arrival>>> {
    // The map holds senders only; a panic elsewhere cannot leave it half-updated.
    waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Routes replies of framed request groups to the group waiting for them.
pub(crate) struct ReplyRouter {
    base: String,
    next_group: AtomicU64,
    waiting: Waiting,
    subscribed: OnceCell<()>,
    /// Dropped with the router (that is, with the engine): it ends the router task, whose
    /// subscription would otherwise keep the connection open after every handle is gone.
    _alive: oneshot::Sender<()>,
    engine_dropped: Mutex<Option<oneshot::Receiver<()>>>,
}

/// Removes a group from the router however its wait ends (reply, timeout, cancellation).
struct Registration<'a> {
    waiting: &'a Waiting,
    group: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(self.waiting).remove(&self.group);
    }
}

impl ReplyRouter {
    pub(crate) fn new(client: &Client) -> Self {
        let (alive, engine_dropped) = oneshot::channel();
        Self {
            base: client.new_inbox(),
            next_group: AtomicU64::new(1),
            waiting: Arc::default(),
            subscribed: OnceCell::new(),
            _alive: alive,
            engine_dropped: Mutex::new(Some(engine_dropped)),
        }
    }

    /// Subscribes to `<inbox>.>` on first use. The SUB goes out before the first request on the
    /// same connection, and the server handles one connection's protocol in order.
    async fn ensure_subscribed(&self, client: &Client) -> Result<()> {
        self.subscribed
            .get_or_try_init(|| async {
                let mut subscriber = client
                    .subscribe(format!("{}.>", self.base))
                    .await
                    .map_err(|e| super::errors::transport("subscribe to the reply inbox", e))?;
                let (waiting, prefix) = (self.waiting.clone(), format!("{}.", self.base));
                let engine_dropped =
                    self.engine_dropped.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                tokio::spawn(async move {
                    let engine_dropped = async {
                        match engine_dropped {
                            Some(receiver) => {
                                let _ = receiver.await;
                            }
                            None => std::future::pending().await,
                        }
                    };
                    tokio::pin!(engine_dropped);
                    loop {
                        tokio::select! {
                            message = subscriber.next() => match message {
                                Some(message) => route(&waiting, &prefix, message),
                                None => break,
                            },
                            () = &mut engine_dropped => break,
                        }
                    }
                });
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

fn route(waiting: &Waiting, prefix: &str, message: Message) {
    let Some(rest) = message.subject.as_str().strip_prefix(prefix) else { return };
    let (group, index) = match rest.split_once('.') {
        Some((group, index)) => (group, index.parse::<usize>().ok()),
        None => (rest, None),
    };
    let Ok(group) = group.parse::<u64>() else { return };
    let arrival = match (message.status, index) {
        (Some(StatusCode::NO_RESPONDERS), _) => Arrival::NoResponders,
        (Some(_), _) => return, // other statuses carry no reply
        (None, Some(index)) => Arrival::One(index, message.payload),
        (None, None) => Arrival::Frame(message.payload),
    };
    if let Some(sender) = lock(waiting).get(&group) {
        let _ = sender.send(arrival); // a group that stopped waiting has dropped its receiver
    }
}

/// Frames of requests for one subject, each with the number of requests it carries.
pub(crate) fn request_frames(
    envelopes: &[&[u8]],
    per_frame: usize,
    options: FrameOptions,
) -> Result<Vec<(Vec<u8>, usize)>> {
    split_into_frames(
        envelopes.iter().copied(),
        FrameCut { max_envelopes: per_frame, target_bytes: usize::MAX },
        options,
    )
}

/// Which members of one group have their outcome, and the outcomes not yet reported.
struct Slots {
    done: Vec<bool>,
    open: usize,
    ready: Vec<(usize, Result<Bytes>)>,
}

impl Slots {
    fn new(count: usize) -> Self {
        Self { done: vec![false; count], open: count, ready: Vec::new() }
    }

    fn fill(&mut self, index: usize, outcome: Result<Bytes>) {
        if let Some(done @ false) = self.done.get_mut(index) {
            *done = true;
            self.open -= 1;
            self.ready.push((index, outcome));
        }
    }

    fn fail_open(&mut self, err: &CatgaError) {
        for index in 0..self.done.len() {
            self.fill(index, Err(err.clone()));
        }
    }

    fn absorb_frame(&mut self, payload: &Bytes, limits: &Limits) -> Result<()> {
        let frame = decode_frame(payload, limits)?;
        for (index, range) in frame.ranges.iter().enumerate() {
            if range.is_empty() {
                continue; // not answered in this frame; may come on its own
            }
            let reply = if frame.compressed {
                Bytes::copy_from_slice(&frame.body[range.clone()])
            } else {
                payload.slice(range.clone()) // shares the received buffer
            };
            self.fill(index, Ok(reply));
        }
        Ok(())
    }

    /// Outcomes filled since the last call, as (member index, outcome).
    fn take_ready(&mut self) -> Vec<(usize, Result<Bytes>)> {
        std::mem::take(&mut self.ready)
    }
}

/// One framed request group on its way: the frame and what it needs to collect the replies.
pub(crate) struct GroupRequest<'a> {
    pub client: &'a Client,
    pub router: &'a ReplyRouter,
    pub stats: &'a Stats,
    pub subject: &'a str,
    pub frame: Vec<u8>,
    pub count: usize,
    /// When every member still open fails with `timed_out`: counted from when the group was
    /// started (see [`group_deadline`]), so sending it cannot stretch the wait.
    pub deadline: tokio::time::Instant,
    pub limits: &'a Limits,
    /// Refusals the server reported: the group fails at once when its subject is refused.
    pub permissions: &'a Permissions,
}

/// Longest wait honoured; a larger timeout (only possible from Rust callers) is capped, not a panic.
const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The deadline of a request started now with `timeout`.
pub(crate) fn group_deadline(timeout: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + timeout.min(MAX_WAIT)
}

impl GroupRequest<'_> {
    /// Sends the frame and reports outcomes as they arrive, each member exactly once: `report`
    /// gets (member index, reply or error) pairs, so an answered request never waits for a slow
    /// sibling. A member with no reply within the timeout gets `timed_out`'s error; all get
    /// CATGA_NO_HANDLER when nobody is subscribed, and CATGA_PERMISSION_DENIED once the server
    /// refuses the publish (at once when it refused one to the subject before).
    pub(crate) async fn run(
        self,
        timed_out: impl Fn() -> CatgaError,
        mut report: impl FnMut(Vec<(usize, Result<Bytes>)>),
    ) {
        let mut slots = Slots::new(self.count);
        let deadline = self.deadline;
        // While async-nats reconnects it takes no commands and its queue fills up: subscribing and
        // publishing can wait that long, so they count against the requests' deadline too.
        match tokio::time::timeout_at(deadline, self.router.ensure_subscribed(self.client)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                slots.fail_open(&err);
                return report(slots.take_ready());
            }
            Err(_) => {
                slots.fail_open(&timed_out());
                return report(slots.take_ready());
            }
        }
        let group = self.router.next_group.fetch_add(1, Ordering::Relaxed);
        let (sender, mut arrivals) = mpsc::unbounded_channel();
        lock(&self.router.waiting).insert(group, sender);
        let _registration = Registration { waiting: &self.router.waiting, group };
        let reply = format!("{}.{group}", self.router.base);
        let frame_len = self.frame.len() as u64;
        // Taken before the frame goes out, so a refusal of it is seen.
        let mut changes = self.permissions.watch();
        let published = self.client.publish_with_reply(self.subject.to_owned(), reply, Bytes::from(self.frame));
        match tokio::time::timeout_at(deadline, published).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                slots.fail_open(&super::errors::publish_error(self.subject, err));
                return report(slots.take_ready());
            }
            Err(_) => {
                slots.fail_open(&timed_out());
                return report(slots.take_ready());
            }
        }
        Stats::add(&self.stats.frames_sent, 1);
        Stats::add(&self.stats.bytes_sent, frame_len);
        while slots.open > 0 {
            let arrival = tokio::select! {
                arrival = tokio::time::timeout_at(deadline, arrivals.recv()) => arrival,
                // The server refused to let this connection publish to the subject: no reply can come.
                denied = self.permissions.denied(self.subject, &mut changes) => {
                    slots.fail_open(&denied);
                    return report(slots.take_ready());
                }
            };
            match arrival {
                Ok(Some(Arrival::Frame(payload))) => {
                    if let Err(err) = slots.absorb_frame(&payload, self.limits) {
                        slots.fail_open(&CatgaError::new(
                            err.code,
                            format!("malformed reply frame from {}: {}", self.subject, err.message),
                        ));
                    }
                }
                Ok(Some(Arrival::One(index, payload))) => slots.fill(index, Ok(payload)),
                Ok(Some(Arrival::NoResponders)) => slots.fail_open(&CatgaError::new(
                    ErrorCode::NoHandler,
                    format!("no handler is subscribed to {}", self.subject),
                )),
                Ok(None) | Err(_) => slots.fail_open(&timed_out()),
            }
            let ready = slots.take_ready();
            if !ready.is_empty() {
                report(ready);
            }
        }
    }
}

/// Responder side: the reply subject of request `index` of a framed request group.
pub(crate) fn member_reply_subject(group_reply: &str, index: usize) -> String {
    format!("{group_reply}.{index}")
}

/// Replies ready to send: (group reply subject, frame) per group, and (subject, envelope) for
/// each reply that goes on its own.
pub(crate) type FramedReplies<'a> = (Vec<(&'a str, Vec<u8>)>, Vec<(&'a str, &'a [u8])>);

/// Responder side: puts replies addressed to members of framed groups (`<reply>.<i>`) back into
/// one positional frame per group; everything else is returned to be sent on its own.
pub(crate) fn frame_replies<'a>(
    items: &[(&'a str, &'a [u8])],
    groups: &'a [(String, u32)],
    options: FrameOptions,
) -> FramedReplies<'a> {
    // Per group, which item answers each member.
    let mut slots: HashMap<&'a str, Vec<Option<usize>>> =
        groups.iter().map(|(reply, count)| (reply.as_str(), vec![None; *count as usize])).collect();
    let mut singles = Vec::new();
    for (k, &(subject, envelope)) in items.iter().enumerate() {
        let member = subject.rsplit_once('.').and_then(|(group, index)| {
            let index = index.parse::<usize>().ok()?;
            let list = slots.get_mut(group)?;
            let slot = list.get_mut(index).filter(|slot| slot.is_none() && !envelope.is_empty())?;
            *slot = Some(k);
            Some(())
        });
        if member.is_none() {
            singles.push((subject, envelope));
        }
    }
    let mut frames = Vec::new();
    for (reply, list) in slots {
        if list.iter().all(Option::is_none) {
            continue;
        }
        let entries: Vec<&[u8]> = list.iter().map(|k| k.map_or(&[][..], |k| items[k].1)).collect();
        match crate::frame::encode_frame(&entries, &options) {
            Ok(frame) => frames.push((reply, frame)),
            // Too large for one frame: each reply goes on its own to its member subject.
            Err(_) => singles.extend(list.iter().flatten().map(|&k| items[k])),
        }
    }
    (frames, singles)
}

#[cfg(test)]
#[path = "request_frames_tests.rs"]
mod tests;
