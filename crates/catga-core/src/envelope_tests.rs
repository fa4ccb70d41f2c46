//! Unit tests of `envelope` (kept apart so the module reads as production code only).
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
