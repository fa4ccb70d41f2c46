//! Unit tests of `durable_publish`'s publish deadline, against a fake NATS server that acks only the
//! messages it is told to: a lost ack needs no broker to kill, and the test is deterministic.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant as StdInstant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const INFO: &[u8] = b"INFO {\"server_id\":\"fake\",\"server_name\":\"fake\",\"version\":\"2.10.0\",\"proto\":1,\
\"host\":\"127.0.0.1\",\"port\":4222,\"headers\":true,\"max_payload\":1048576}\r\n";

/// When the fake server acks a message, by its `Nats-Msg-Id`: after a delay, or never (`None`:
/// the ack is lost, as with a broker that died with the publish in flight).
type Answer = fn(&str) -> Option<Duration>;

/// A NATS server that takes subscriptions and publishes and acks them as `answer` says, as
/// JetStream would. Counts the publishes it read.
struct FakeServer {
    url: String,
    published: Arc<AtomicUsize>,
}

impl FakeServer {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("nats://{}", listener.local_addr().unwrap());
        let published = Arc::new(AtomicUsize::new(0));
        let count = published.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, answer, count.clone()));
            }
        });
        Self { url, published }
    }

    async fn jetstream(&self) -> Context {
        async_nats::jetstream::new(async_nats::connect(&self.url).await.unwrap())
    }
}

async fn serve(socket: TcpStream, answer: Answer, published: Arc<AtomicUsize>) {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    write.write_all(INFO).await.unwrap();
    let write = Arc::new(tokio::sync::Mutex::new(write));
    let (mut inbox_sid, mut sequence, mut line) = (String::new(), 0u64, String::new());
    loop {
        line.clear();
        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.first().copied() {
            Some("PING") => write.lock().await.write_all(b"PONG\r\n").await.unwrap(),
            // The client's reply multiplexer: `SUB _INBOX.<id>.* <sid>`.
            Some("SUB") if parts[1].ends_with(".*") => inbox_sid = parts[parts.len() - 1].to_owned(),
            // `PUB <subject> <reply> <bytes>` or `HPUB <subject> <reply> <header bytes> <bytes>`.
            Some("PUB" | "HPUB") => {
                let total: usize = parts[parts.len() - 1].parse().unwrap();
                let mut body = vec![0; total + 2];
                read.read_exact(&mut body).await.unwrap();
                published.fetch_add(1, Ordering::SeqCst);
                let body = String::from_utf8_lossy(&body);
                let id = body.split("Nats-Msg-Id: ").nth(1).and_then(|rest| rest.split("\r\n").next()).unwrap_or("");
                if let Some(delay) = answer(id) {
                    sequence += 1;
                    let ack = format!("{{\"stream\":\"S\",\"seq\":{sequence}}}");
                    let msg = format!("MSG {} {inbox_sid} {}\r\n{ack}\r\n", parts[2], ack.len());
                    let write = write.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = write.lock().await.write_all(msg.as_bytes()).await;
                    });
                }
            }
            _ => {}
        }
    }
}

fn items(ids: &[String]) -> Vec<(&str, &str, &[u8])> {
    ids.iter().map(|id| ("orders.evt", id.as_str(), b"envelope".as_slice())).collect()
}

fn ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("m{i}")).collect()
}

#[tokio::test]
async fn lost_acks_settle_as_timeout_by_the_deadline_however_many_there_are() {
    // Each lost ack used to take async-nats' 5 s on its own: 40 of them, 200 s.
    let server = FakeServer::start(|id| {
        let even = id.trim_start_matches('m').parse::<u32>().is_ok_and(|n| n % 2 == 0);
        even.then_some(Duration::ZERO)
    })
    .await;
    let js = server.jetstream().await;
    let ids = ids(40);
    let started = StdInstant::now();
    let outcomes = publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_millis(300))).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(290) && waited < Duration::from_millis(1500), "{waited:?}");
    assert_eq!(outcomes.len(), 40);
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(receipt) => assert!(i % 2 == 0 && receipt.sequence > 0 && !receipt.duplicate, "{i}"),
            Err(error) => assert!(i % 2 == 1 && error.code == ErrorCode::Timeout, "{i}: {error:?}"),
        }
    }
}

#[tokio::test]
async fn an_ack_slower_than_async_nats_default_is_still_awaited_until_the_deadline() {
    // async-nats times an ack out after 5 s unless told otherwise; the deadline is what counts.
    // (Real time: a paused tokio clock skips ahead of the fake server's socket I/O.)
    let server = FakeServer::start(|_| Some(Duration::from_millis(5300))).await;
    let js = server.jetstream().await;
    let ids = ids(3);
    let outcomes = publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_secs(8))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
}

#[tokio::test]
async fn items_still_unsent_at_the_deadline_are_never_sent() {
    let server = FakeServer::start(|id| (id == "probe").then_some(Duration::ZERO)).await;
    let js = server.jetstream().await;
    let ids = ids(10);
    // Chunks of 3: the first chunk's acks are lost, so the deadline passes before the rest go.
    let outcomes = publish_durable(&js, &items(&ids), 3, PublishDeadline::after(Duration::from_millis(200))).await;
    assert!(outcomes.iter().all(|o| matches!(o, Err(e) if e.code == ErrorCode::Timeout)), "{outcomes:?}");
    // The connection is ordered: once the probe is acked, the server has read all sent before it.
    let probe = ["probe".to_owned()];
    let acked = publish_durable(&js, &items(&probe), 3, PublishDeadline::after(Duration::from_secs(5))).await;
    assert!(acked[0].is_ok(), "{acked:?}");
    assert_eq!(server.published.load(Ordering::SeqCst), 3 + 1);
}
