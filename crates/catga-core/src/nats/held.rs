//! Deliveries the host keeps past their batch: per-key ordered consumption holds a key's later
//! messages while an earlier one of the same key is retried in place, and the host settles them
//! one by one later.
//!
//! Invariant: a held delivery is kept from redelivery by in-progress acks (`+WIP`), sent one
//! after another in stream-sequence order on the one connection, together with the batch the host
//! is still deciding (which may bring later messages of a held key). The server restarts each ack
//! timer in that order, so a key's held messages expire, and are redelivered, in stream order
//! if the process dies; and [`release`] hands them back with naks in the same order.
//! A settle may arrive before its hold (the host runs a held message while the rest of its batch
//! is still being decided): it is remembered and applied when the hold arrives, so a message is
//! never held after the host has settled it.

use std::collections::{BTreeMap, HashMap};

use async_nats::jetstream::{AckKind, Message};

use super::jetstream::{Decision, Delivery};

/// A fetched batch the host is still deciding: its messages by stream sequence.
pub type Deciding = Vec<(u64, Message)>;

/// Held items (deliveries) by stream sequence, and settles that came before their hold.
#[derive(Debug)]
pub struct Held<T = Delivery> {
    items: BTreeMap<u64, T>,
    early: HashMap<u64, Decision>,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Self { items: BTreeMap::new(), early: HashMap::new() }
    }
}

impl<T> Held<T> {
    /// Holds `item`, or hands it back with its decision when the host already settled it. A
    /// redelivery of a sequence already held replaces the older item, so the later settle answers
    /// the newest delivery.
    pub fn hold(&mut self, sequence: u64, item: T) -> Option<(T, Decision)> {
        if let Some(decision) = self.early.remove(&sequence) {
            return Some((item, decision));
        }
        self.items.insert(sequence, item);
        None
    }

    /// The held item to settle with `decision`; when it is not held yet, the decision is kept
    /// for its hold.
    pub fn settle(&mut self, sequence: u64, decision: Decision) -> Option<(T, Decision)> {
        match self.items.remove(&sequence) {
            Some(item) => Some((item, decision)),
            None => {
                self.early.insert(sequence, decision);
                None
            }
        }
    }

    /// Number of items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Empties the set, in stream-sequence order, for [`release`]; forgets early settles.
    pub fn take_all(&mut self) -> Vec<T> {
        self.early.clear();
        std::mem::take(&mut self.items).into_values().collect()
    }
}

impl Held<Delivery> {
    /// The held messages in stream-sequence order (cheap clones), for [`keep_alive`].
    pub fn messages(&self) -> Vec<Message> {
        self.items.values().map(|d| d.message.clone()).collect()
    }

    /// The held messages and `deciding` (a fetched batch the host has not decided yet), together
    /// in stream-sequence order, for [`keep_alive`]. A batch being decided may hold later messages
    /// of a held key: keeping only the held ones alive would restart the older messages' ack
    /// timers after the newer ones were delivered, and after a crash the newer would come back first.
    pub fn messages_with(&self, deciding: &[(u64, Message)]) -> Vec<Message> {
        let mut all: Vec<(u64, &Message)> = self.items.iter().map(|(s, d)| (*s, &d.message)).collect();
        all.extend(deciding.iter().filter(|(s, _)| !self.items.contains_key(s)).map(|(s, m)| (*s, m)));
        all.sort_by_key(|(sequence, _)| *sequence);
        all.into_iter().map(|(_, m)| m.clone()).collect()
    }
}

/// Sends `+WIP` for each message, one after another in the order given (stream order, from
/// [`Held::messages`]), restarting each one's ack timer. Failures are ignored: a message whose
/// progress ack is lost is redelivered after its ack wait, as if the process had died.
pub async fn keep_alive(messages: &[Message]) {
    for message in messages {
        let _ = message.ack_with(AckKind::Progress).await;
    }
}

/// Hands held deliveries back to the server (nak without delay), one after another in the order
/// given, so they are redelivered in stream order: used when a consumer stops while holding.
pub async fn release(deliveries: &[Delivery]) {
    for delivery in deliveries {
        let _ = delivery.message.ack_with(AckKind::Nak(None)).await;
    }
}

#[cfg(test)]
#[path = "held_tests.rs"]
mod tests;
