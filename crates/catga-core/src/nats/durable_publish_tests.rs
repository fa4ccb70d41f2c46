//! Unit tests of `durable_publish`'s deadline and retries, against a fake NATS server that answers
//! each attempt as it is told to: a lost ack or a leaderless stream needs no broker to kill, and
//! the test is deterministic.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant as StdInstant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const INFO: &[u8] = b"INFO {\"server_id\":\"fake\",\"server_name\":\"fake\",\"version\":\"2.10.0\",\"proto\":1,\
\"host\":\"127.0.0.1\",\"port\":4222,\"headers\":true,\"max_payload\":1048576}\r\n";

/// How the fake server answers one attempt of a publish.
#[derive(Clone, Copy)]
enum Reply {
    /// An ack after this delay.
    Ack(Duration),
    /// Nothing: the ack is lost, as with a broker that died with the publish in flight.
    Lost,
    /// NATS "no responders" (503 status): no stream leader took the message.
    NoResponders,
    /// A JetStream API error with this HTTP-like code (503: temporarily unavailable).
    ApiError(u16),
}

/// How the fake server answers a publish, by its `Nats-Msg-Id` and attempt (0 for the first).
type Answer = fn(&str, u32) -> Reply;

/// A NATS server that takes subscriptions and publishes and answers them as `answer` says, as
/// JetStream would. Counts the publishes it read. A stream lookup by subject finds stream "S"
/// unless the server was started `without_stream`.
struct FakeServer {
    url: String,
    published: Arc<AtomicUsize>,
}

impl FakeServer {
    async fn start(answer: Answer) -> Self {
        Self::start_with(answer, true).await
    }

    async fn without_stream(answer: Answer) -> Self {
        Self::start_with(answer, false).await
    }

    async fn start_with(answer: Answer, stream: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("nats://{}", listener.local_addr().unwrap());
        let published = Arc::new(AtomicUsize::new(0));
        let count = published.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, answer, stream, count.clone()));
            }
        });
        Self { url, published }
    }

    async fn jetstream(&self) -> Context {
        async_nats::jetstream::new(async_nats::connect(&self.url).await.unwrap())
    }
}

async fn serve(socket: TcpStream, answer: Answer, stream: bool, published: Arc<AtomicUsize>) {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    write.write_all(INFO).await.unwrap();
    let write = Arc::new(tokio::sync::Mutex::new(write));
    let (mut inbox_sid, mut sequence, mut line) = (String::new(), 0u64, String::new());
    let mut attempts = std::collections::HashMap::<String, u32>::new();
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
                let body = String::from_utf8_lossy(&body);
                let reply_to = parts[2];
                let message = if parts[1] == "$JS.API.STREAM.NAMES" {
                    let names = if stream { r#"["S"]"# } else { "null" };
                    let total = usize::from(stream);
                    let page = format!("{{\"total\":{total},\"offset\":0,\"limit\":1024,\"streams\":{names}}}");
                    format!("MSG {reply_to} {inbox_sid} {}\r\n{page}\r\n", page.len())
                } else {
                    let Some(id) = body.split("Nats-Msg-Id: ").nth(1).and_then(|rest| rest.split("\r\n").next()) else {
                        continue;
                    };
                    published.fetch_add(1, Ordering::SeqCst);
                    let attempt = attempts.entry(id.to_owned()).or_default();
                    let reply = answer(id, *attempt);
                    *attempt += 1;
                    let (delay, json) = match reply {
                        Reply::Lost => continue,
                        Reply::NoResponders => {
                            let status = "NATS/1.0 503\r\n\r\n";
                            let len = status.len();
                            let msg = format!("HMSG {reply_to} {inbox_sid} {len} {len}\r\n{status}\r\n");
                            write.lock().await.write_all(msg.as_bytes()).await.unwrap();
                            continue;
                        }
                        Reply::Ack(delay) => {
                            sequence += 1;
                            (delay, format!("{{\"stream\":\"S\",\"seq\":{sequence}}}"))
                        }
                        Reply::ApiError(code) => (
                            Duration::ZERO,
                            format!("{{\"error\":{{\"code\":{code},\"err_code\":10000,\"description\":\"fake\"}}}}"),
                        ),
                    };
                    let msg = format!("MSG {reply_to} {inbox_sid} {}\r\n{json}\r\n", json.len());
                    if !delay.is_zero() {
                        let write = write.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = write.lock().await.write_all(msg.as_bytes()).await;
                        });
                        continue;
                    }
                    msg
                };
                write.lock().await.write_all(message.as_bytes()).await.unwrap();
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
    let server = FakeServer::start(|id, _| {
        let even = id.trim_start_matches('m').parse::<u32>().is_ok_and(|n| n % 2 == 0);
        if even {
            Reply::Ack(Duration::ZERO)
        } else {
            Reply::Lost
        }
    })
    .await;
    let js = server.jetstream().await;
    let ids = ids(40);
    let started = StdInstant::now();
    let outcomes = publish_durable(
        &js,
        &items(&ids),
        64,
        PublishDeadline::after(Duration::from_millis(300)),
        PublishRetry::default(),
    )
    .await;
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
    let server = FakeServer::start(|_, _| Reply::Ack(Duration::from_millis(5300))).await;
    let js = server.jetstream().await;
    let ids = ids(3);
    let outcomes =
        publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_secs(8)), PublishRetry::default())
            .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
}

#[tokio::test]
async fn items_still_unsent_at_the_deadline_are_never_sent() {
    let server = FakeServer::start(|id, _| if id == "probe" { Reply::Ack(Duration::ZERO) } else { Reply::Lost }).await;
    let js = server.jetstream().await;
    let ids = ids(10);
    // Chunks of 3: the first chunk's acks are lost, so the deadline passes before the rest go.
    let outcomes = publish_durable(
        &js,
        &items(&ids),
        3,
        PublishDeadline::after(Duration::from_millis(200)),
        PublishRetry::default(),
    )
    .await;
    assert!(outcomes.iter().all(|o| matches!(o, Err(e) if e.code == ErrorCode::Timeout)), "{outcomes:?}");
    // The connection is ordered: once the probe is acked, the server has read all sent before it.
    let probe = ["probe".to_owned()];
    let acked = publish_durable(
        &js,
        &items(&probe),
        3,
        PublishDeadline::after(Duration::from_secs(5)),
        PublishRetry::default(),
    )
    .await;
    assert!(acked[0].is_ok(), "{acked:?}");
    assert_eq!(server.published.load(Ordering::SeqCst), 3 + 1);
}

/// Retries quick enough for a unit test: attempts unacked for 150 ms are re-sent.
const FAST: PublishRetry = PublishRetry {
    first_backoff: Duration::from_millis(50),
    max_backoff: Duration::from_millis(500),
    attempt_timeout: Duration::from_millis(150),
};

#[test]
fn the_backoff_doubles_from_the_first_wait_up_to_the_cap() {
    let retry = PublishRetry::default();
    let mut waits = vec![retry.first_backoff];
    for _ in 0..5 {
        waits.push(retry.next_backoff(*waits.last().unwrap()));
    }
    assert_eq!(waits, [50, 100, 200, 400, 500, 500].map(Duration::from_millis));
}

#[tokio::test]
async fn a_publish_answered_no_responders_during_an_election_is_resent_with_its_id_until_acked() {
    // Three attempts find no stream leader, the fourth is acked: the caller sees one receipt.
    let server =
        FakeServer::start(|_, attempt| if attempt < 3 { Reply::NoResponders } else { Reply::Ack(Duration::ZERO) })
            .await;
    let js = server.jetstream().await;
    let ids = ids(1);
    let started = StdInstant::now();
    let outcomes = publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_secs(5)), FAST).await;
    assert!(matches!(&outcomes[..], [Ok(_)]), "{outcomes:?}");
    // Backoff 50 + 100 + 200 ms between the four attempts.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(340) && waited < Duration::from_millis(1500), "{waited:?}");
    assert_eq!(server.published.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_lost_ack_is_resent_after_the_attempt_timeout_and_the_retry_is_acked() {
    let server =
        FakeServer::start(|_, attempt| if attempt == 0 { Reply::Lost } else { Reply::Ack(Duration::ZERO) }).await;
    let js = server.jetstream().await;
    let ids = ids(5);
    let outcomes = publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_secs(5)), FAST).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(server.published.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn a_late_ack_of_an_earlier_attempt_still_settles_the_message() {
    // The first attempt is acked after 400 ms; the re-sends at 150 and 300 ms are never acked.
    let server =
        FakeServer::start(|_, attempt| if attempt == 0 { Reply::Ack(Duration::from_millis(400)) } else { Reply::Lost })
            .await;
    let js = server.jetstream().await;
    let ids = ids(1);
    let outcomes = publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_secs(5)), FAST).await;
    assert!(matches!(&outcomes[..], [Ok(receipt)] if receipt.sequence == 1), "{outcomes:?}");
}

#[tokio::test]
async fn a_stream_without_a_leader_until_the_deadline_is_a_timeout_not_no_handler() {
    let server = FakeServer::start(|_, _| Reply::NoResponders).await;
    let js = server.jetstream().await;
    let ids = ids(2);
    let started = StdInstant::now();
    let deadline = PublishDeadline::after(Duration::from_millis(600));
    let outcomes = publish_durable(&js, &items(&ids), 64, deadline, PublishRetry::default()).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(590) && waited < Duration::from_millis(1500), "{waited:?}");
    for outcome in &outcomes {
        let error = outcome.as_ref().unwrap_err();
        assert_eq!(error.code, ErrorCode::Timeout, "{error:?}");
        assert!(error.message.contains("JetStream unavailable"), "{error:?}");
    }
    // Attempts at 0, 50, 150, 350 ms (the next would be at 750 ms): the backoff spaces them.
    let published = server.published.load(Ordering::SeqCst);
    assert!((2 * 3..=2 * 5).contains(&published), "{published}");
}

#[tokio::test]
async fn no_responders_for_a_subject_no_stream_captures_fails_at_once_with_no_handler() {
    let server = FakeServer::without_stream(|_, _| Reply::NoResponders).await;
    let js = server.jetstream().await;
    let ids = ids(3);
    let started = StdInstant::now();
    let deadline = PublishDeadline::after(Duration::from_secs(5));
    let outcomes = publish_durable(&js, &items(&ids), 64, deadline, PublishRetry::default()).await;
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(outcomes.iter().all(|o| matches!(o, Err(e) if e.code == ErrorCode::NoHandler)), "{outcomes:?}");
    assert_eq!(server.published.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_jetstream_503_is_retried_and_any_other_api_error_is_final() {
    let server = FakeServer::start(|id, attempt| match (id, attempt) {
        ("m0", 0) => Reply::ApiError(503),
        ("m0", _) => Reply::Ack(Duration::ZERO),
        _ => Reply::ApiError(400),
    })
    .await;
    let js = server.jetstream().await;
    let ids = ids(2);
    let outcomes = publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_secs(5)), FAST).await;
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert!(matches!(&outcomes[1], Err(e) if e.code == ErrorCode::Transport), "{outcomes:?}");
    assert_eq!(server.published.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn after_a_lost_ack_the_retries_follow_the_backoff_not_the_attempt_timeout() {
    // The first attempt went to a leader that died (its ack never comes, and it stays awaited);
    // the re-sends meet an election, then a new leader acks.
    let server = FakeServer::start(|_, attempt| match attempt {
        0 => Reply::Lost,
        1..=3 => Reply::NoResponders,
        _ => Reply::Ack(Duration::ZERO),
    })
    .await;
    let js = server.jetstream().await;
    let ids = ids(1);
    let retry = PublishRetry { attempt_timeout: Duration::from_millis(400), ..FAST };
    let started = StdInstant::now();
    let outcomes = publish_durable(&js, &items(&ids), 64, PublishDeadline::after(Duration::from_secs(5)), retry).await;
    assert!(matches!(&outcomes[..], [Ok(_)]), "{outcomes:?}");
    // 400 ms, then 50 + 100 + 200 ms of backoff (paced by the attempt timeout, it would be 1600 ms).
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(740) && waited < Duration::from_millis(1200), "{waited:?}");
    assert_eq!(server.published.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_refused_subject_settles_denied_at_once_and_is_not_re_sent() {
    // The server's refusal comes as an -ERR, recorded by the engine's event callback: here by hand.
    let server = FakeServer::start(|_, _| Reply::Lost).await;
    let js = server.jetstream().await;
    let permissions = std::sync::Arc::new(Permissions::default());
    let refuse = {
        let permissions = permissions.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            permissions.record("nats: Permissions Violation for Publish to \"orders.evt\"");
        }
    };
    let ids = ids(3);
    let items = items(&ids);
    let started = StdInstant::now();
    let deadline = PublishDeadline::after(Duration::from_secs(5));
    let (outcomes, ()) =
        tokio::join!(publish_durable_checked(&js, &items, 64, deadline, FAST, Some(&permissions)), refuse);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    for outcome in &outcomes {
        assert_eq!(outcome.as_ref().map_err(|e| e.code), Err(ErrorCode::PermissionDenied), "{outcome:?}");
    }
    assert_eq!(server.published.load(Ordering::SeqCst), 3, "sent once each, never re-sent");
    // Known refused: the next call sends nothing.
    let again = publish_durable_checked(&js, &items, 64, deadline, FAST, Some(&permissions)).await;
    assert!(again.iter().all(|o| o.as_ref().is_err_and(|e| e.code == ErrorCode::PermissionDenied)));
    assert_eq!(server.published.load(Ordering::SeqCst), 3);
}
