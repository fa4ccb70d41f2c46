//! The message envelope: a MessagePack array
//! `[version, kind, type, messageId, correlationId, causationId, createdAtMs, headers, codec, payload]`.
//!
//! `payload` holds bytes already encoded by the TypeScript codec chosen for the type, so Rust
//! never needs to understand user objects. Decoding borrows every string and the payload from
//! the input, so a decode allocates only the headers map.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{CatgaError, ErrorCode, Result};
use crate::limits::Limits;

/// Wire version written by this build and the only one it reads.
pub const ENVELOPE_VERSION: u8 = 1;
/// Number of fields in a version-1 envelope array.
const ENVELOPE_FIELDS: u32 = 10;

/// What a message is for; travels as a small integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum MessageKind {
    /// Asks one handler to change state; expects a reply.
    Command = 0,
    /// Asks one handler for data; expects a reply.
    Query = 1,
    /// Tells every subscriber something happened; no reply.
    Event = 2,
    /// A handler's answer to a command or query.
    Reply = 3,
    /// A handler's failure, sent in place of a reply.
    Error = 4,
}

impl MessageKind {
    /// Every kind, indexed by its wire value.
    pub const ALL: [MessageKind; 5] =
        [MessageKind::Command, MessageKind::Query, MessageKind::Event, MessageKind::Reply, MessageKind::Error];
}

impl From<MessageKind> for u8 {
    fn from(kind: MessageKind) -> u8 {
        kind as u8
    }
}

impl TryFrom<u8> for MessageKind {
    type Error = String;
    fn try_from(value: u8) -> std::result::Result<Self, String> {
        MessageKind::ALL.get(usize::from(value)).copied().ok_or_else(|| format!("unknown message kind {value}"))
    }
}

/// One message on the wire. Borrowed from the bytes it was decoded from (or from the caller's
/// values when encoding), so decoding is zero-copy for strings and payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<'a> {
    /// Wire version ([`ENVELOPE_VERSION`]).
    pub version: u8,
    /// What the message is for.
    pub kind: MessageKind,
    /// The message type name the host routes on (e.g. `orders.place`).
    #[serde(borrow)]
    pub message_type: &'a str,
    /// Unique id of this message.
    #[serde(borrow)]
    pub message_id: &'a str,
    /// Id shared by every message of one conversation; absent for a root message.
    #[serde(borrow)]
    pub correlation_id: Option<&'a str>,
    /// Id of the message that caused this one.
    #[serde(borrow)]
    pub causation_id: Option<&'a str>,
    /// Milliseconds since the Unix epoch. Accepts integer or float on decode because
    /// JavaScript encoders may write `Date.now()` as either.
    #[serde(deserialize_with = "deserialize_millis")]
    pub created_at_ms: u64,
    /// Free-form string headers (trace context and the like).
    #[serde(borrow)]
    pub headers: BTreeMap<&'a str, &'a str>,
    /// Name of the codec that encoded `payload` (e.g. `msgpack`).
    #[serde(borrow)]
    pub codec: &'a str,
    /// The message body, encoded by the host; Rust never reads it.
    #[serde(borrow, with = "serde_bytes")]
    pub payload: &'a [u8],
}

fn deserialize_millis<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<u64, D::Error> {
    struct Millis;
    impl serde::de::Visitor<'_> for Millis {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a non-negative millisecond timestamp")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("createdAtMs is negative"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<u64, E> {
            // 2^53 is the largest integer a JS number holds exactly.
            if (0.0..=9_007_199_254_740_992.0).contains(&v) && v.fract() == 0.0 {
                Ok(v as u64)
            } else {
                Err(E::custom("createdAtMs is not a whole non-negative number"))
            }
        }
    }
    deserializer.deserialize_any(Millis)
}

impl<'a> Envelope<'a> {
    /// A version-1 envelope with no correlation, no headers and the `msgpack` codec.
    pub fn new(kind: MessageKind, message_type: &'a str, message_id: &'a str, payload: &'a [u8]) -> Self {
        Self {
            version: ENVELOPE_VERSION,
            kind,
            message_type,
            message_id,
            correlation_id: None,
            causation_id: None,
            created_at_ms: 0,
            headers: BTreeMap::new(),
            codec: "msgpack",
            payload,
        }
    }
}

/// Appends the MessagePack form of `envelope` to `out` and returns the number of bytes written.
/// On error `out` is left as it was.
pub fn encode_envelope_into(envelope: &Envelope<'_>, out: &mut Vec<u8>, limits: &Limits) -> Result<usize> {
    let start = out.len();
    if let Err(err) = rmp_serde::encode::write(out, envelope) {
        out.truncate(start);
        return Err(CatgaError::new(ErrorCode::Encode, format!("envelope: {err}")));
    }
    let written = out.len() - start;
    if written > limits.max_envelope_bytes {
        out.truncate(start);
        return Err(CatgaError::limit("envelope size in bytes", written, limits.max_envelope_bytes));
    }
    Ok(written)
}

/// Encodes one envelope to a new buffer.
pub fn encode_envelope(envelope: &Envelope<'_>, limits: &Limits) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + envelope.payload.len());
    encode_envelope_into(envelope, &mut out, limits)?;
    Ok(out)
}

/// Decodes one envelope, borrowing strings and payload from `bytes`.
pub fn decode_envelope<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Envelope<'a>> {
    if bytes.len() > limits.max_envelope_bytes {
        return Err(CatgaError::limit("envelope size in bytes", bytes.len(), limits.max_envelope_bytes));
    }
    // Check the array shape and version before the full decode, so a newer sender gets a
    // version error rather than a confusing field error.
    let mut head = bytes;
    let fields = rmp::decode::read_array_len(&mut head)
        .map_err(|_| CatgaError::decode("envelope is not a MessagePack array"))?;
    let version: u8 =
        rmp::decode::read_int(&mut head).map_err(|_| CatgaError::decode("envelope version is not a small integer"))?;
    if version != ENVELOPE_VERSION {
        return Err(CatgaError::new(
            ErrorCode::UnsupportedVersion,
            format!("envelope version {version} is not supported (this build reads version {ENVELOPE_VERSION})"),
        ));
    }
    if fields != ENVELOPE_FIELDS {
        return Err(CatgaError::decode(format!("envelope has {fields} fields, expected {ENVELOPE_FIELDS}")));
    }
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(bytes);
    let envelope =
        Envelope::deserialize(&mut deserializer).map_err(|err| CatgaError::decode(format!("envelope: {err}")))?;
    // The payload is the last field and is borrowed from `bytes`, so whatever lies past its end
    // is trailing garbage (rmp-serde does not expose the unread remainder of a borrowed reader).
    let payload_end = envelope.payload.as_ptr() as usize + envelope.payload.len();
    let trailing = (bytes.as_ptr() as usize + bytes.len()).saturating_sub(payload_end);
    if trailing != 0 {
        return Err(CatgaError::decode(format!("envelope has {trailing} trailing bytes")));
    }
    Ok(envelope)
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
