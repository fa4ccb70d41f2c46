//! Unit tests of `frame` (kept apart so the module reads as production code only).
use super::*;

fn envelopes(n: usize, size: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| vec![(i % 251) as u8; size]).collect()
}

#[test]
fn small_batches_stay_uncompressed_and_borrow_the_input() {
    let items = envelopes(3, 10);
    let frame = encode_frame(&items, &FrameOptions::default()).unwrap();
    assert_eq!(frame[5], 0);
    let decoded = decode_frame(&frame, &Limits::default()).unwrap();
    assert!(matches!(decoded.body, Cow::Borrowed(_)));
    assert_eq!(decoded.envelopes().collect::<Vec<_>>(), items.iter().map(Vec::as_slice).collect::<Vec<_>>());
}

#[test]
fn large_compressible_batches_use_zstd() {
    let items = envelopes(128, 256);
    let frame = encode_frame(&items, &FrameOptions::default()).unwrap();
    assert_eq!(frame[5], FLAG_ZSTD);
    assert!(frame.len() < 128 * 256 / 4);
    let decoded = decode_frame(&frame, &Limits::default()).unwrap();
    assert!(decoded.compressed);
    assert_eq!(decoded.len(), 128);
    assert!(decoded.envelopes().zip(&items).all(|(a, b)| a == b.as_slice()));
}

#[test]
fn incompressible_batches_are_sent_raw() {
    // xorshift noise does not compress, so zstd must not be used even above the threshold.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let frame = encode_frame(&[noise], &FrameOptions::default()).unwrap();
    assert_eq!(frame[5], 0);
}

#[test]
fn threshold_disables_compression() {
    let options = FrameOptions { compression_threshold: usize::MAX, ..FrameOptions::default() };
    let frame = encode_frame(&envelopes(128, 256), &options).unwrap();
    assert_eq!(frame[5], 0);
}

#[test]
fn empty_batch_round_trips() {
    let frame = encode_frame::<Vec<u8>>(&[], &FrameOptions::default()).unwrap();
    assert!(decode_frame(&frame, &Limits::default()).unwrap().is_empty());
}

#[test]
fn rejects_wrong_magic_version_and_flags() {
    let frame = encode_frame(&envelopes(2, 4), &FrameOptions::default()).unwrap();
    let mut bad = frame.clone();
    bad[0] = b'X';
    assert_eq!(decode_frame(&bad, &Limits::default()).unwrap_err().code, ErrorCode::Decode);
    let mut bad = frame.clone();
    bad[4] = 9;
    assert_eq!(decode_frame(&bad, &Limits::default()).unwrap_err().code, ErrorCode::UnsupportedVersion);
    let mut bad = frame;
    bad[5] = 0b100;
    assert_eq!(decode_frame(&bad, &Limits::default()).unwrap_err().code, ErrorCode::Decode);
}

#[test]
fn rejects_every_truncation() {
    for compress in [false, true] {
        let threshold = if compress { 0 } else { usize::MAX };
        let options = FrameOptions { compression_threshold: threshold, ..FrameOptions::default() };
        let frame = encode_frame(&envelopes(16, 64), &options).unwrap();
        for cut in 0..frame.len() {
            let err = decode_frame(&frame[..cut], &Limits::default()).unwrap_err();
            assert!(matches!(err.code, ErrorCode::Decode | ErrorCode::Compression), "cut {cut}: {err:?}");
        }
    }
}

#[test]
fn huge_declared_count_is_rejected_before_allocation() {
    let mut frame = encode_frame(&envelopes(1, 4), &FrameOptions::default()).unwrap();
    frame[6..10].copy_from_slice(&4000u32.to_le_bytes());
    let err = decode_frame(&frame, &Limits::default()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Decode);
    frame[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode_frame(&frame, &Limits::default()).unwrap_err().code, ErrorCode::Limit);
}

#[test]
fn zip_bomb_is_rejected() {
    // 64 MiB of zeros compresses to a few KiB; the declared size is above the default limit.
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let bomb_body = zstd::bulk::compress(&zeros, 3).unwrap();
    let mut frame = Vec::new();
    frame.extend_from_slice(&FRAME_MAGIC);
    frame.extend_from_slice(&[FRAME_VERSION, FLAG_ZSTD]);
    frame.extend_from_slice(&1u32.to_le_bytes());
    frame.extend_from_slice(&(zeros.len() as u32).to_le_bytes());
    frame.extend_from_slice(&bomb_body);
    assert_eq!(decode_frame(&frame, &Limits::default()).unwrap_err().code, ErrorCode::Limit);
    // Lying about the size does not help: zstd stops at the declared capacity.
    frame[10..14].copy_from_slice(&1024u32.to_le_bytes());
    assert_eq!(decode_frame(&frame, &Limits::default()).unwrap_err().code, ErrorCode::Compression);
}

#[test]
fn builder_enforces_batch_limits() {
    let limits = Limits { max_batch_count: 2, max_batch_bytes: 64, ..Limits::default() };
    let options = FrameOptions { limits, ..FrameOptions::default() };
    let mut builder = FrameBuilder::new(options);
    builder.push_encoded(&[1; 8]).unwrap();
    builder.push_encoded(&[2; 8]).unwrap();
    assert_eq!(builder.push_encoded(&[3; 8]).unwrap_err().code, ErrorCode::Limit);
    let mut builder = FrameBuilder::new(options);
    assert_eq!(builder.push_encoded(&[0; 60]).unwrap_err().code, ErrorCode::Limit);
    assert!(builder.is_empty());
}

#[test]
fn builder_encodes_envelopes_in_place() {
    use crate::envelope::{decode_envelope, MessageKind};
    let mut builder = FrameBuilder::new(FrameOptions::default());
    let env = Envelope::new(MessageKind::Event, "orders.placed", "id-1", b"{}");
    builder.push_envelope(&env).unwrap();
    builder.push_envelope(&env).unwrap();
    let frame = builder.finish().unwrap();
    let decoded = decode_frame(&frame, &Limits::default()).unwrap();
    for bytes in decoded.envelopes() {
        assert_eq!(decode_envelope(bytes, &Limits::default()).unwrap(), env);
    }
}

#[test]
fn barely_compressible_batches_are_sent_raw() {
    // Random payloads behind a repeated header shrink by ~13 %: not worth zstd's CPU on either end.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut item = |_| {
        let mut bytes = b"catga-envelope-header:type=bench.event;codec=msgpack;".to_vec();
        bytes.extend((0..256).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        }));
        bytes
    };
    for count in [8, 1024] {
        // 8 items: judged on the whole body; 1024 items: judged on a sample first.
        let items: Vec<Vec<u8>> = (0..count).map(&mut item).collect();
        let frame =
            encode_frame(&items, &FrameOptions { compression_threshold: 0, ..FrameOptions::default() }).unwrap();
        assert_eq!(frame[5], 0, "{count} items");
    }
}

fn noise(n: usize, size: usize) -> Vec<Vec<u8>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            (0..size)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        })
        .collect()
}

fn split(items: &[Vec<u8>], cut: FrameCut, options: FrameOptions) -> Vec<(Vec<u8>, usize)> {
    split_into_frames(items.iter().map(Vec::as_slice), cut, options).unwrap()
}

/// Every envelope comes back once, in order, across the frames of a split.
fn assert_round_trips(frames: &[(Vec<u8>, usize)], items: &[Vec<u8>]) {
    let mut decoded = Vec::new();
    for (frame, count) in frames {
        let frame = decode_frame(frame, &Limits::default()).unwrap();
        assert_eq!(frame.len(), *count);
        decoded.extend(frame.envelopes().map(<[u8]>::to_vec));
    }
    assert_eq!(decoded, items);
}

#[test]
fn a_split_cuts_frames_at_the_target_size() {
    // 100 incompressible envelopes of 300 B against a 4 KiB target: 13 per frame (13 × 304 B).
    let items = noise(100, 300);
    let cut = FrameCut { max_envelopes: usize::MAX, target_bytes: 4096 };
    let frames = split(&items, cut, FrameOptions::default());
    assert_eq!(frames.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [13, 13, 13, 13, 13, 13, 13, 9]);
    assert!(frames.iter().all(|(frame, _)| frame[5] == 0 && frame.len() <= 10 + 4096));
    assert_round_trips(&frames, &items);

    // An envelope larger than the target travels alone; the count cut still applies.
    let big = vec![noise(1, 300).remove(0), noise(1, 5000).remove(0), noise(1, 300).remove(0)];
    let frames = split(&big, cut, FrameOptions::default());
    assert_eq!(frames.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [1, 1, 1]);
    assert_round_trips(&frames, &big);
    let frames = split(&items, FrameCut { max_envelopes: 40, target_bytes: usize::MAX }, FrameOptions::default());
    assert_eq!(frames.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [40, 40, 20]);
}

#[test]
fn a_compressible_split_keeps_large_compressed_frames() {
    // The first frame compresses, so the rest ignore the target: zstd wins more on large bodies.
    let items = envelopes(200, 300);
    let cut = FrameCut { max_envelopes: usize::MAX, target_bytes: 4096 };
    let frames = split(&items, cut, FrameOptions::default());
    assert_eq!(frames.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [13, 187]);
    assert!(frames.iter().all(|(frame, _)| frame[5] == FLAG_ZSTD));
    assert_round_trips(&frames, &items);
}

#[test]
fn an_incompressible_split_tries_zstd_once() {
    // Compressible envelopes after an incompressible first frame stay raw: one try per split.
    let mut items = noise(13, 300);
    items.extend(envelopes(50, 300));
    let cut = FrameCut { max_envelopes: usize::MAX, target_bytes: 4096 };
    let frames = split(&items, cut, FrameOptions::default());
    assert!(frames.len() > 2);
    assert!(frames.iter().all(|(frame, _)| frame[5] == 0));
    assert_round_trips(&frames, &items);
}
