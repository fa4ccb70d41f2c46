//! Unit tests of `request_frames` (the wire round trip runs against a real server in the napi tests).
use super::*;
use crate::frame::{decode_frame, FrameOptions};

#[test]
fn requests_are_framed_in_groups_of_at_most_per_frame() {
    let envelopes: Vec<Vec<u8>> = (0..5u8).map(|i| vec![0x9a, 1, i]).collect();
    let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
    let frames = request_frames(&refs, 2, FrameOptions::default()).unwrap();
    assert_eq!(frames.iter().map(|(_, n)| *n).collect::<Vec<_>>(), vec![2, 2, 1]);
    let first = decode_frame(&frames[0].0, &Limits::default()).unwrap();
    assert_eq!(first.envelopes().collect::<Vec<_>>(), vec![&envelopes[0][..], &envelopes[1][..]]);
}

#[test]
fn frames_split_where_the_byte_limit_would_be_passed() {
    let mut options = FrameOptions::default();
    options.limits.max_batch_bytes = 10 + 2 * (4 + 100);
    let envelopes = [vec![7u8; 100], vec![8u8; 100], vec![9u8; 100]];
    let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
    let frames = request_frames(&refs, 64, options).unwrap();
    assert_eq!(frames.iter().map(|(_, n)| *n).collect::<Vec<_>>(), vec![2, 1]);
    let too_big = [vec![1u8; 300]];
    let refs: Vec<&[u8]> = too_big.iter().map(Vec::as_slice).collect();
    assert!(request_frames(&refs, 64, options).is_err());
}

#[test]
fn replies_to_group_members_go_back_in_one_positional_frame() {
    let groups = vec![("_INBOX.x.7".to_owned(), 3u32)];
    let (a, c, other) = (b"reply-a".as_slice(), b"reply-c".as_slice(), b"single".as_slice());
    // Out of order, one member unanswered, one reply to a plain request.
    let items = [("_INBOX.x.7.2", c), ("_INBOX.plain", other), ("_INBOX.x.7.0", a)];
    let (frames, singles) = frame_replies(&items, &groups, FrameOptions::default());
    assert_eq!(singles, vec![("_INBOX.plain", other)]);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0, "_INBOX.x.7");
    let frame = decode_frame(&frames[0].1, &Limits::default()).unwrap();
    assert_eq!(frame.envelopes().collect::<Vec<_>>(), vec![a, &[][..], c]);
}

#[test]
fn member_subjects_outside_the_group_or_repeated_are_sent_on_their_own() {
    let groups = vec![("_INBOX.x.7".to_owned(), 2u32)];
    let items = [
        ("_INBOX.x.7.0", b"first".as_slice()),
        ("_INBOX.x.7.0", b"again".as_slice()), // a second reply to the same member
        ("_INBOX.x.7.5", b"past".as_slice()),  // index past the group
        ("_INBOX.x.8.0", b"other".as_slice()), // not a group of this batch
    ];
    let (frames, singles) = frame_replies(&items, &groups, FrameOptions::default());
    assert_eq!(frames.len(), 1);
    assert_eq!(singles.len(), 3);
}

#[test]
fn reply_frames_fill_slots_once_and_skip_empty_entries() {
    let frame = crate::frame::encode_frame(&[b"r0".as_slice(), b"", b"r2"], &FrameOptions::default()).unwrap();
    let mut slots = Slots::new(3);
    slots.absorb_frame(&Bytes::from(frame), &Limits::default()).unwrap();
    assert_eq!(slots.open, 1);
    let first: Vec<_> = slots.take_ready().into_iter().map(|(i, o)| (i, o.unwrap())).collect();
    assert_eq!(first, vec![(0, Bytes::from_static(b"r0")), (2, Bytes::from_static(b"r2"))]);
    // The unanswered member arrives on its own later; a duplicate is ignored.
    slots.fill(1, Ok(Bytes::from_static(b"r1")));
    slots.fill(1, Ok(Bytes::from_static(b"late duplicate")));
    slots.fail_open(&CatgaError::new(ErrorCode::Timeout, "late"));
    assert_eq!(slots.open, 0);
    let second: Vec<_> = slots.take_ready().into_iter().map(|(i, o)| (i, o.unwrap())).collect();
    assert_eq!(second, vec![(1, Bytes::from_static(b"r1"))]);
    let mut slots = Slots::new(2);
    assert!(slots.absorb_frame(&Bytes::from_static(b"CTG1garbage"), &Limits::default()).is_err());
}
