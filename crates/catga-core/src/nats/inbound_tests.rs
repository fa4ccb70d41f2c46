//! Unit tests of `inbound` (kept apart so the module reads as production code only).
use super::*;
use crate::envelope::{encode_envelope, Envelope, MessageKind};
use crate::frame::{encode_frame, FrameOptions};

fn envelope(id: &str) -> Vec<u8> {
    encode_envelope(&Envelope::new(MessageKind::Event, "t", id, b"p"), &Limits::default()).unwrap()
}

#[test]
fn absorbs_frames_and_single_envelopes_and_skips_garbage() {
    let limits = Limits::default();
    let mut batch = InboundBatch::default();
    let frame = encode_frame(&[envelope("a"), envelope("b")], &FrameOptions::default()).unwrap();
    batch.absorb(&frame, "evt.t", None, &limits);
    batch.absorb(&envelope("c"), "cmd.t", Some("_INBOX.1"), &limits);
    batch.absorb(b"CTG1 but broken", "evt.t", None, &limits);
    batch.absorb(b"\x00\x01garbage", "evt.t", None, &limits);
    assert_eq!(batch.len(), 3);
    assert_eq!(batch.malformed, 2);
    assert!(batch.malformed_reason.as_deref().unwrap().starts_with("evt.t"));
    assert_eq!(batch.replies, vec![None, None, Some("_INBOX.1".to_owned())]);
    let third = &batch.data[batch.offsets[4] as usize..][..batch.offsets[5] as usize];
    assert_eq!(third, envelope("c").as_slice());
}
