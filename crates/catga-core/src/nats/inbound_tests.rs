//! Unit tests of `inbound` (kept apart so the module reads as production code only).
use super::*;
use crate::envelope::{encode_envelope, Envelope, MessageKind};
use crate::frame::{encode_frame, FrameOptions, FLAG_ZSTD};
use std::time::Duration;

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

#[test]
fn large_uncompressed_frames_are_adopted_without_copying() {
    let limits = Limits::default();
    let raw = FrameOptions { compression_threshold: usize::MAX, ..FrameOptions::default() };
    let items: Vec<Vec<u8>> = (0..1000).map(|i| envelope(&format!("message-id-{i:04}-{}", "x".repeat(40)))).collect();
    let payload = Bytes::from(encode_frame(&items, &raw).unwrap());
    assert!(payload.len() >= SHARED_FRAME_BYTES);
    let mut batch = InboundBatch::default();
    assert!(batch.adopt_frame(&payload, "evt.t", Some("_INBOX.g.7"), &limits));
    assert!(batch.data.is_empty(), "nothing copied");
    assert_eq!(batch.shared.as_ref().map(|b| b.as_ptr()), Some(payload.as_ptr()));
    assert_eq!(batch.len(), 1000);
    let last = &payload[batch.offsets[1998] as usize..][..batch.offsets[1999] as usize];
    assert_eq!(last, items[999].as_slice());
    assert_eq!(batch.replies[999].as_deref(), Some("_INBOX.g.7.999"));
    assert_eq!(batch.reply_groups, vec![("_INBOX.g.7".to_owned(), 1000)]);

    // Small frames are copied (several share one JS call); compressed ones must be inflated.
    let small = Bytes::from(encode_frame(&items[..2], &raw).unwrap());
    assert!(!InboundBatch::default().adopt_frame(&small, "evt.t", None, &limits));
    let zstd = Bytes::from(encode_frame(&items, &FrameOptions { compression_threshold: 0, ..raw }).unwrap());
    if zstd[5] & FLAG_ZSTD != 0 {
        assert!(!InboundBatch::default().adopt_frame(&zstd, "evt.t", None, &limits));
    }
}

#[test]
fn an_adopted_frame_skips_entries_that_are_not_envelopes() {
    let limits = Limits::default();
    let raw = FrameOptions { compression_threshold: usize::MAX, ..FrameOptions::default() };
    let mut items: Vec<Vec<u8>> =
        (0..1000).map(|i| envelope(&format!("message-id-{i:04}-{}", "x".repeat(40)))).collect();
    items[3] = b"not an envelope".to_vec();
    let payload = Bytes::from(encode_frame(&items, &raw).unwrap());
    let mut batch = InboundBatch::default();
    assert!(batch.adopt_frame(&payload, "cmd.t", Some("_INBOX.g.1"), &limits));
    assert_eq!(batch.len(), 999);
    assert_eq!(batch.malformed, 1);
    // Members keep their frame positions: the 4th envelope delivered answers member 4.
    assert_eq!(batch.replies[3].as_deref(), Some("_INBOX.g.1.4"));
}

#[test]
fn copied_frames_keep_their_entries_and_a_corrupt_one_leaves_nothing_behind() {
    let limits = Limits::default();
    let raw = FrameOptions { compression_threshold: usize::MAX, ..FrameOptions::default() };
    let mut items: Vec<Vec<u8>> = (0..5).map(|i| envelope(&format!("r{i}"))).collect();
    items[2] = b"not an envelope".to_vec();
    let frame = encode_frame(&items, &raw).unwrap();
    let zstd_items: Vec<Vec<u8>> = (0..64).map(|i| envelope(&format!("z{i:02}-{}", "y".repeat(60)))).collect();
    let zstd = encode_frame(&zstd_items, &FrameOptions { compression_threshold: 0, ..raw }).unwrap();
    assert_eq!(zstd[5] & FLAG_ZSTD, FLAG_ZSTD, "the second frame must be compressed for this test");

    let mut batch = InboundBatch::default();
    batch.absorb(&frame, "evt.t", Some("_INBOX.g.2"), &limits);
    let mut truncated = frame.clone();
    truncated.truncate(frame.len() - 3);
    batch.absorb(&truncated, "evt.t", None, &limits);
    let after_raw = batch.data.len();
    batch.absorb(&zstd, "evt.t", None, &limits);

    assert_eq!(after_raw, frame.len(), "the corrupt frame's copy was taken back");
    assert_eq!(batch.malformed, 2); // the bad entry and the truncated frame
    assert_eq!(batch.len(), 4 + 64);
    let entry = |i: usize| &batch.data[batch.offsets[2 * i] as usize..][..batch.offsets[2 * i + 1] as usize];
    let expected: Vec<&[u8]> =
        [0, 1, 3, 4].iter().map(|&i| items[i].as_slice()).chain(zstd_items.iter().map(Vec::as_slice)).collect();
    assert!((0..batch.len()).all(|i| entry(i) == expected[i]));
    // Members keep their frame positions; the compressed frame's entries came with no reply.
    assert_eq!(batch.replies[2].as_deref(), Some("_INBOX.g.2.3"));
    assert_eq!(batch.reply_groups, vec![("_INBOX.g.2".to_owned(), 5)]);
    assert!(batch.replies[4..].iter().all(Option::is_none));
}

/// A NATS server that delivers one message per subscription at once and, when it reads the
/// subscription's UNSUB, three more after a pause, as a server does when its last picks for a
/// queue group are still on the wire: they precede the UNSUB's effect, so the PONG to the
/// client's next PING comes after them.
async fn serve_in_flight_at_unsubscribe(socket: tokio::net::TcpStream, envelope: Vec<u8>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    let info = "INFO {\"server_id\":\"fake\",\"server_name\":\"fake\",\"version\":\"2.10.0\",\"proto\":1,\
                \"host\":\"127.0.0.1\",\"port\":4222,\"headers\":true,\"max_payload\":1048576}\r\n";
    write.write_all(info.as_bytes()).await.unwrap();
    let message = |sid: &str| {
        let mut out = format!("MSG cmd.t {sid} _INBOX.r {}\r\n", envelope.len()).into_bytes();
        out.extend_from_slice(&envelope);
        out.extend_from_slice(b"\r\n");
        out
    };
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.first().copied() {
            Some("PING") => write.write_all(b"PONG\r\n").await.unwrap(),
            Some("SUB") => write.write_all(&message(parts[parts.len() - 1])).await.unwrap(),
            Some("UNSUB") => {
                // A PING of the server's own first: it wakes the client's connection handler, so
                // a client that ends the subscription on its next read (async-nats as published)
                // has done so before the three arrive, whatever the timing.
                tokio::time::sleep(Duration::from_millis(50)).await;
                write.write_all(b"PING\r\n").await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
                for _ in 0..3 {
                    write.write_all(&message(parts[1])).await.unwrap();
                }
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn drain_delivers_what_the_server_sent_before_it_processed_the_unsubscribe() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    let sent = envelope("in-flight");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve_in_flight_at_unsubscribe(socket, sent.clone()));
        }
    });
    let client = async_nats::connect(&url).await.unwrap();
    let subscriber = client.queue_subscribe("cmd.t", "workers".into()).await.unwrap();
    let mut subscription =
        InboundSubscription::new(subscriber, Limits::default(), 64, 1 << 20, Arc::new(Stats::default()));
    let mut received = subscription.next_batch().await.unwrap().len();
    assert_eq!(received, 1);

    subscription.drain().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(batch) = subscription.next_batch().await {
            received += batch.len();
        }
    })
    .await;
    assert!(ended.is_ok(), "the drained subscription ends once the server has answered");
    // async-nats 0.51 as published removed the subscription at its next read, before the PONG,
    // and dropped the three (crates/vendor/async-nats/PATCHED.md).
    assert_eq!(received, 4);
}
