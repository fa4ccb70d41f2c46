//! What the server refused this connection: NATS answers a publish or subscription it does not
//! allow with an asynchronous `-ERR 'Permissions Violation for Publish to "<subject>"'` (or
//! `Subscription to`), never with a reply, so without this a request to a forbidden subject
//! waits its whole timeout and a forbidden event publish is lost unseen. The engine records each
//! violation here; waiting calls watch for their subject and fail with `CATGA_PERMISSION_DENIED`.
//!
//! Invariant: a subject is `denied` only after the server refused a publish to it on the current
//! connection, and `confirmed` only after a publish to it was followed by a server round trip that
//! brought no refusal; both are forgotten on reconnect (the new server may have other rules).
//! Each set is bounded: a full set is emptied, which costs one more check, never a wrong answer.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::error::{CatgaError, ErrorCode};

/// Most subjects a set remembers (reply inboxes are unique per request, so refused replies would
/// otherwise grow `denied` forever).
const MAX_REMEMBERED: usize = 4096;

/// A permissions violation the server reported, with the subject it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    Publish(String),
    Subscription(String),
}

/// The violation in a server error text (`Permissions Violation for Publish to "a.b"`; a queue
/// subscription adds ` using queue "q"`). The subject is quoted as Go's `%q` does: `\"` and `\\`
/// are unescaped, anything else is kept as written.
pub(crate) fn parse_violation(text: &str) -> Option<Violation> {
    const PUBLISH: &str = "Permissions Violation for Publish to \"";
    const SUBSCRIPTION: &str = "Permissions Violation for Subscription to \"";
    if let Some((_, rest)) = text.split_once(PUBLISH) {
        return quoted(rest).map(Violation::Publish);
    }
    let (_, rest) = text.split_once(SUBSCRIPTION)?;
    quoted(rest).map(Violation::Subscription)
}

/// The text up to the closing quote, unescaped; `None` when there is no closing quote.
fn quoted(rest: &str) -> Option<String> {
    let mut subject = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(subject),
            '\\' => match chars.next()? {
                escaped @ ('"' | '\\') => subject.push(escaped),
                other => {
                    subject.push('\\');
                    subject.push(other);
                }
            },
            c => subject.push(c),
        }
    }
    None
}

/// The error of a call refused because the server does not let this connection publish to `subject`.
pub(crate) fn publish_denied(subject: &str) -> CatgaError {
    CatgaError::new(
        ErrorCode::PermissionDenied,
        format!("the server does not allow this connection to publish to {subject:?} (NATS permissions)"),
    )
}

/// Subjects refused and confirmed on this connection, and a signal for calls waiting on them.
pub(crate) struct Permissions {
    denied: Mutex<HashSet<String>>,
    /// Whether `denied` may hold anything: the common case (no refusal ever) takes no lock.
    any_denied: AtomicBool,
    confirmed: Mutex<HashSet<String>>,
    refused_subscriptions: Mutex<BTreeSet<String>>,
    /// Bumped after each publish refusal is recorded; waiters then look up their subject.
    changes: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The sets hold plain strings; a panic elsewhere cannot leave one half-updated.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn remember(set: &mut HashSet<String>, subject: &str) {
    if set.len() >= MAX_REMEMBERED {
        set.clear();
    }
    set.insert(subject.to_owned());
}

impl Default for Permissions {
    fn default() -> Self {
        Self {
            denied: Mutex::default(),
            any_denied: AtomicBool::new(false),
            confirmed: Mutex::default(),
            refused_subscriptions: Mutex::default(),
            changes: watch::Sender::new(0),
        }
    }
}

impl Permissions {
    /// Records the violation a server error text reports; `false` when it reports none.
    pub(crate) fn record(&self, text: &str) -> bool {
        match parse_violation(text) {
            Some(Violation::Publish(subject)) => {
                lock(&self.confirmed).remove(&subject);
                remember(&mut lock(&self.denied), &subject);
                self.any_denied.store(true, Ordering::SeqCst);
                self.changes.send_modify(|n| *n = n.wrapping_add(1));
                true
            }
            Some(Violation::Subscription(subject)) => {
                lock(&self.refused_subscriptions).insert(subject);
                true
            }
            None => false,
        }
    }

    /// Forgets publish refusals and confirmations: the connection is to a new server, whose rules
    /// may differ. (Refused subscriptions stay listed: async-nats re-sends them, and a refusal
    /// comes again.)
    pub(crate) fn reset_publishes(&self) {
        let mut denied = lock(&self.denied);
        denied.clear();
        self.any_denied.store(false, Ordering::SeqCst);
        drop(denied);
        lock(&self.confirmed).clear();
    }

    /// Whether the server refused a publish to `subject` on this connection.
    pub(crate) fn is_denied(&self, subject: &str) -> bool {
        self.any_denied.load(Ordering::SeqCst) && lock(&self.denied).contains(subject)
    }

    /// Stops remembering a refusal (for one-off subjects, such as the flush probe).
    pub(crate) fn forget_denied(&self, subject: &str) {
        if self.any_denied.load(Ordering::SeqCst) {
            lock(&self.denied).remove(subject);
        }
    }

    /// A receiver that sees every refusal recorded after this call: take it before publishing.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Resolves once a publish to `subject` has been refused (at once if it already was), with the
    /// error to report. `changes` must come from [`Self::watch`], taken before the publish.
    pub(crate) async fn denied(&self, subject: &str, changes: &mut watch::Receiver<u64>) -> CatgaError {
        loop {
            if self.is_denied(subject) {
                return publish_denied(subject);
            }
            if changes.changed().await.is_err() {
                // The sender lives as long as the engine: never closed while a call waits.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Of `subjects`, those refused before (`denied`) and those not yet confirmed (`unconfirmed`),
    /// in their order; a subject in neither has been published to and not refused.
    pub(crate) fn sort<'a>(&self, subjects: impl IntoIterator<Item = &'a str>) -> Sorted<'a> {
        let mut sorted = Sorted::default();
        let confirmed = lock(&self.confirmed);
        for subject in subjects {
            if self.is_denied(subject) {
                sorted.denied.push(subject);
            } else if !confirmed.contains(subject) {
                sorted.unconfirmed.push(subject);
            }
        }
        sorted
    }

    /// Marks `subjects` confirmed: a round trip after publishing to them brought no refusal.
    pub(crate) fn confirm<'a>(&self, subjects: impl IntoIterator<Item = &'a str>) {
        let mut confirmed = lock(&self.confirmed);
        for subject in subjects {
            remember(&mut confirmed, subject);
        }
    }

    /// Subjects the server refused to subscribe this connection to, so far.
    pub(crate) fn refused_subscriptions(&self) -> Vec<String> {
        lock(&self.refused_subscriptions).iter().cloned().collect()
    }
}

/// Subjects of one publish, by what is known of them (see [`Permissions::sort`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sorted<'a> {
    pub denied: Vec<&'a str>,
    pub unconfirmed: Vec<&'a str>,
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
