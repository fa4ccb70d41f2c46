//! The headers a dead letter carries: why it failed, how often, and where it came from, so an
//! operator (or `@catga/native/operations`) can inspect it and replay it to the one consumer that
//! failed it. Header values never hold a line break (NATS headers are line-based).

use async_nats::HeaderMap;

/// Where a dead-lettered message came from and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterFacts<'a> {
    /// The stable error code (`Catga-Error-Code`).
    pub code: &'a str,
    /// The error's text (`Catga-Error-Message`), line breaks replaced by spaces.
    pub message: &'a str,
    /// Attempts made (`Catga-Deliveries`).
    pub deliveries: u32,
    /// The subject it was published to (`Catga-Original-Subject`).
    pub original_subject: &'a str,
    /// Its sequence in the stream it was consumed from (`Catga-Stream-Sequence`).
    pub stream_sequence: u64,
    /// The stream it was consumed from (`Catga-Stream`), when the delivery said.
    pub stream: Option<&'a str>,
    /// The durable consumer that failed it (`Catga-Consumer`), when the delivery said: a replay
    /// goes back to this consumer only, not to every service that takes the subject.
    pub consumer: Option<&'a str>,
}

/// The NATS headers of a dead letter.
pub fn dead_letter_headers(facts: &DeadLetterFacts<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Catga-Error-Code", one_line(facts.code).as_str());
    headers.insert("Catga-Error-Message", one_line(facts.message).as_str());
    headers.insert("Catga-Deliveries", facts.deliveries.to_string().as_str());
    headers.insert("Catga-Original-Subject", facts.original_subject);
    headers.insert("Catga-Stream-Sequence", facts.stream_sequence.to_string().as_str());
    if let Some(stream) = facts.stream {
        headers.insert("Catga-Stream", one_line(stream).as_str());
    }
    if let Some(consumer) = facts.consumer {
        headers.insert("Catga-Consumer", one_line(consumer).as_str());
    }
    headers
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
#[path = "dead_letter_tests.rs"]
mod tests;
