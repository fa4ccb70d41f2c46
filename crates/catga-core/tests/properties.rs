//! Property tests: arbitrary envelopes and batches round-trip, and arbitrary bytes never panic
//! any decoder.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use catga_core::{
    decode_envelope, decode_frame, encode_envelope, encode_frame, Envelope, FrameOptions, Limits, MessageKind,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct OwnedEnvelope {
    kind: MessageKind,
    message_type: String,
    message_id: String,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    created_at_ms: u64,
    headers: BTreeMap<String, String>,
    codec: String,
    payload: Vec<u8>,
}

impl OwnedEnvelope {
    fn view(&self) -> Envelope<'_> {
        Envelope {
            version: 1,
            kind: self.kind,
            message_type: &self.message_type,
            message_id: &self.message_id,
            correlation_id: self.correlation_id.as_deref(),
            causation_id: self.causation_id.as_deref(),
            created_at_ms: self.created_at_ms,
            headers: self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            codec: &self.codec,
            payload: &self.payload,
        }
    }
}

fn arb_envelope() -> impl Strategy<Value = OwnedEnvelope> {
    (
        prop::sample::select(MessageKind::ALL.to_vec()),
        "\\PC{0,40}",
        "[0-9a-f-]{0,36}",
        prop::option::of("\\PC{0,36}"),
        prop::option::of("\\PC{0,36}"),
        any::<u64>(),
        prop::collection::btree_map("\\PC{0,12}", "\\PC{0,24}", 0..4),
        "(msgpack|json|[a-z]{0,8})",
        prop::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(
            |(kind, message_type, message_id, correlation_id, causation_id, created_at_ms, headers, codec, payload)| {
                OwnedEnvelope {
                    kind,
                    message_type,
                    message_id,
                    correlation_id,
                    causation_id,
                    created_at_ms,
                    headers,
                    codec,
                    payload,
                }
            },
        )
}

proptest! {
    #[test]
    fn envelope_round_trips(owned in arb_envelope()) {
        let env = owned.view();
        let bytes = encode_envelope(&env, &Limits::default()).unwrap();
        prop_assert_eq!(decode_envelope(&bytes, &Limits::default()).unwrap(), env);
    }

    #[test]
    fn batch_round_trips(items in prop::collection::vec(arb_envelope(), 0..40), threshold in prop_oneof![Just(0usize), Just(1024usize), Just(usize::MAX)]) {
        let encoded: Vec<Vec<u8>> = items.iter().map(|e| encode_envelope(&e.view(), &Limits::default()).unwrap()).collect();
        let options = FrameOptions { compression_threshold: threshold, ..FrameOptions::default() };
        let frame = encode_frame(&encoded, &options).unwrap();
        let decoded = decode_frame(&frame, &Limits::default()).unwrap();
        prop_assert_eq!(decoded.len(), items.len());
        for (bytes, item) in decoded.envelopes().zip(&items) {
            prop_assert_eq!(decode_envelope(bytes, &Limits::default()).unwrap(), item.view());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_envelope(&bytes, &Limits::default());
        let _ = decode_frame(&bytes, &Limits::default());
    }

    #[test]
    fn corrupted_frames_never_panic(items in prop::collection::vec(arb_envelope(), 1..8), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), compress in any::<bool>()) {
        let encoded: Vec<Vec<u8>> = items.iter().map(|e| encode_envelope(&e.view(), &Limits::default()).unwrap()).collect();
        let threshold = if compress { 0 } else { usize::MAX };
        let mut frame = encode_frame(&encoded, &FrameOptions { compression_threshold: threshold, ..FrameOptions::default() }).unwrap();
        for (index, value) in flips {
            let at = index.index(frame.len());
            frame[at] ^= value;
        }
        if let Ok(decoded) = decode_frame(&frame, &Limits::default()) {
            for bytes in decoded.envelopes() {
                let _ = decode_envelope(bytes, &Limits::default());
            }
        }
    }
}
