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
    Command = 0,
    Query = 1,
    Event = 2,
    Reply = 3,
    Error = 4,
}

impl MessageKind {
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
    pub version: u8,
    pub kind: MessageKind,
    #[serde(borrow)]
    pub message_type: &'a str,
    #[serde(borrow)]
    pub message_id: &'a str,
    #[serde(borrow)]
    pub correlation_id: Option<&'a str>,
    #[serde(borrow)]
    pub causation_id: Option<&'a str>,
    /// Milliseconds since the Unix epoch. Accepts integer or float on decode because
    /// JavaScript encoders may write `Date.now()` as either.
    #[serde(deserialize_with = "deserialize_millis")]
    pub created_at_ms: u64,
    #[serde(borrow)]
    pub headers: BTreeMap<&'a str, &'a str>,
    #[serde(borrow)]
    pub codec: &'a str,
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
mod tests {
    use super::*;

    fn sample<'a>(payload: &'a [u8]) -> Envelope<'a> {
        let mut env = Envelope::new(MessageKind::Command, "orders.place", "0192-abc", payload);
        env.correlation_id = Some("corr-1");
        env.causation_id = Some("cause-1");
        env.created_at_ms = 1_764_000_000_000;
        env.headers.insert("traceparent", "00-abc-def-01");
        env
    }

    #[test]
    fn round_trips_every_field() {
        let env = sample(b"\x81\xa2id\x01");
        let bytes = encode_envelope(&env, &Limits::default()).unwrap();
        assert_eq!(decode_envelope(&bytes, &Limits::default()).unwrap(), env);
    }

    #[test]
    fn payload_is_borrowed_from_input() {
        let env = sample(b"payload-bytes");
        let bytes = encode_envelope(&env, &Limits::default()).unwrap();
        let decoded = decode_envelope(&bytes, &Limits::default()).unwrap();
        let start = decoded.payload.as_ptr() as usize - bytes.as_ptr() as usize;
        assert_eq!(&bytes[start..start + decoded.payload.len()], b"payload-bytes");
    }

    #[test]
    fn rejects_unknown_version_with_its_own_code() {
        let env = sample(b"x");
        let mut bytes = encode_envelope(&env, &Limits::default()).unwrap();
        bytes[1] = 7; // fixarray header, then positive fixint version
        let err = decode_envelope(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedVersion);
        assert!(err.message.contains("version 7"), "{}", err.message);
    }

    #[test]
    fn rejects_truncated_input() {
        let bytes = encode_envelope(&sample(b"abcdef"), &Limits::default()).unwrap();
        for cut in 0..bytes.len() {
            let err = decode_envelope(&bytes[..cut], &Limits::default()).unwrap_err();
            assert_eq!(err.code, ErrorCode::Decode, "cut at {cut}");
        }
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = encode_envelope(&sample(b"x"), &Limits::default()).unwrap();
        bytes.push(0xc0);
        assert_eq!(decode_envelope(&bytes, &Limits::default()).unwrap_err().code, ErrorCode::Decode);
    }

    #[test]
    fn rejects_unknown_kind() {
        let mut bytes = encode_envelope(&sample(b"x"), &Limits::default()).unwrap();
        bytes[2] = 9;
        let err = decode_envelope(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Decode);
        assert!(err.message.contains("kind"), "{}", err.message);
    }

    #[test]
    fn enforces_size_limit_both_ways() {
        let big = vec![0u8; 2048];
        let limits = Limits { max_envelope_bytes: 1024, ..Limits::default() };
        let err = encode_envelope(&sample(&big), &limits).unwrap_err();
        assert_eq!(err.code, ErrorCode::Limit);
        let bytes = encode_envelope(&sample(&big), &Limits::default()).unwrap();
        assert_eq!(decode_envelope(&bytes, &limits).unwrap_err().code, ErrorCode::Limit);
    }

    #[test]
    fn accepts_float_timestamps_from_js_encoders() {
        let value = rmp_serde::to_vec(&(
            1u8,
            0u8,
            "t",
            "id",
            Option::<&str>::None,
            Option::<&str>::None,
            1_764_000_000_000f64,
            BTreeMap::<&str, &str>::new(),
            "json",
            serde_bytes::Bytes::new(b"{}"),
        ))
        .unwrap();
        let decoded = decode_envelope(&value, &Limits::default()).unwrap();
        assert_eq!(decoded.created_at_ms, 1_764_000_000_000);
        assert_eq!(decoded.codec, "json");
    }
}
