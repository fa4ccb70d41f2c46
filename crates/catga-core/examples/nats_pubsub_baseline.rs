//! Rust-only async-nats pub/sub ceiling for `benches/nats.bench.mjs` (no N-API, no JS).
//!
//! ```text
//! cargo build --release -p catga-core --example nats_pubsub_baseline
//! target/release/examples/nats_pubsub_baseline --mode plain|framed|framed-raw [--warm 1] [--secs 5] [--port 4222] [--frame-of 48]
//! ```
//!
//! One process, tokio multi-thread runtime (2 workers), publisher and subscriber on separate
//! connections to 127.0.0.1. Messages are the same kind the JS bench sends: version-1 envelopes
//! with a 256-byte pseudo-random payload, 1024 distinct ones cycled.
//! - `plain`: one NATS message per envelope, the subscriber only counts (a Rust user of async-nats).
//! - `framed`: what the Catga engine does — CTG1 frames of `--frame-of` envelopes (48 ≈ 16 KiB,
//!   the engine's `eventFrameBytes`; nats-server moves those for less CPU per byte than larger
//!   ones) with the zstd attempt, and the subscriber decodes each frame and checks each envelope
//!   before counting. `framed-raw`: the same with zstd off.
//!
//! The publisher holds off while more than 65,536 envelopes are undelivered (so the subscriber is
//! never cut off as a slow consumer) and stops after the measured window or 200M envelopes.
//! Prints one JSON line: `{"mode":..,"msgs_per_sec":..,"published_per_sec":..}`.
//!
//! `--mode probe` needs no server: it times, per 128-envelope frame of the same envelopes, what the
//! engine does on each side (build the frame, the zstd attempt with a fresh context as
//! `zstd::bulk::compress` makes one per call vs a reused one, decode the frame and check each
//! envelope) and prints them as JSON in µs per frame.

use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use catga_core::frame::FrameBuilder;
use catga_core::{
    decode_envelope, decode_frame, encode_envelope, split_into_frames, Envelope, FrameCut, FrameOptions, Limits,
    MessageKind, ENVELOPE_VERSION,
};
use futures_util::StreamExt;

const PAYLOAD_BYTES: usize = 256;
const POOL: usize = 1024;
/// Envelopes per frame in `--mode probe`.
const FRAME_OF: usize = 128;
/// Envelopes per frame in the framed modes unless `--frame-of` says otherwise: 48 × 338 B ≈ 16 KiB.
const DEFAULT_FRAME_OF: usize = 48;
const WINDOW: u64 = 65_536;
const MAX_PUBLISH: u64 = 200_000_000;

struct Args {
    framed: bool,
    zstd: bool,
    probe: bool,
    warm: Duration,
    secs: Duration,
    port: u16,
    frame_of: usize,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        framed: false,
        zstd: true,
        probe: false,
        warm: Duration::from_secs(1),
        secs: Duration::from_secs(5),
        port: 4222,
        frame_of: DEFAULT_FRAME_OF,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--mode" => {
                args.framed = match value.as_str() {
                    "plain" => false,
                    "framed" => true,
                    "framed-raw" => {
                        args.zstd = false;
                        true
                    }
                    "probe" => {
                        args.probe = true;
                        false
                    }
                    other => {
                        return Err(format!("--mode must be plain, framed, framed-raw or probe, got {other}").into())
                    }
                }
            }
            "--warm" => args.warm = Duration::from_secs_f64(value.parse()?),
            "--secs" => args.secs = Duration::from_secs_f64(value.parse()?),
            "--port" => args.port = value.parse()?,
            "--frame-of" => args.frame_of = value.parse::<usize>()?.clamp(1, POOL),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

/// `POOL` distinct envelopes with pseudo-random (incompressible) payloads.
fn envelopes() -> Result<Vec<Bytes>, Box<dyn Error>> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    (0..POOL)
        .map(|_| {
            let payload: Vec<u8> = (0..PAYLOAD_BYTES).map(|_| next() as u8).collect();
            let id = format!("{:016x}-{:016x}-{:02x}", next(), next(), next() as u8);
            let mut envelope = Envelope::new(MessageKind::Event, "bench.event", &id, &payload);
            envelope.created_at_ms = now;
            Ok(Bytes::from(encode_envelope(&envelope, &Limits::default())?))
        })
        .collect()
}

/// This thread's CPU time in ns (Linux schedstat), so a busy machine doesn't inflate the numbers;
/// wall time where it is unavailable.
fn cpu_ns(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .unwrap_or_else(|| wall.elapsed().as_nanos() as f64)
}

/// Mean CPU µs per call of `f` over `rounds` calls (after a tenth as many warm-up calls).
fn time_us<T>(rounds: u32, mut f: impl FnMut() -> Result<T, Box<dyn Error>>) -> Result<f64, Box<dyn Error>> {
    for _ in 0..rounds / 10 {
        std::hint::black_box(f()?);
    }
    let wall = Instant::now();
    let start = cpu_ns(wall);
    for _ in 0..rounds {
        std::hint::black_box(f()?);
    }
    Ok((cpu_ns(wall) - start) / 1e3 / f64::from(rounds))
}

fn probe(pool: &[Bytes]) -> Result<(), Box<dyn Error>> {
    let plain = FrameOptions { compression_threshold: usize::MAX, ..FrameOptions::default() };
    let build = |options: FrameOptions| -> Result<Vec<u8>, Box<dyn Error>> {
        let mut builder = FrameBuilder::new(options);
        for envelope in &pool[..FRAME_OF] {
            builder.push_encoded(envelope)?;
        }
        Ok(builder.finish()?)
    };
    let frame = build(plain)?;
    let body = &frame[10..];
    let limits = Limits::default();
    let rounds = 2000;
    let build_plain = time_us(rounds, || build(plain))?;
    let build_default = time_us(rounds, || build(FrameOptions::default()))?;
    let fresh = time_us(rounds, || Ok(zstd::bulk::compress(body, 1)?))?;
    let mut reused_ctx = zstd::bulk::Compressor::new(1)?;
    let reused = time_us(rounds, || Ok(reused_ctx.compress(body)?))?;
    let fast = time_us(rounds, || Ok(zstd::bulk::compress(body, -5)?))?;
    let sample = time_us(rounds, || Ok(reused_ctx.compress(&body[..4096.min(body.len())])?))?;
    let decode = time_us(rounds, || {
        let decoded = decode_frame(&frame, &limits)?;
        Ok(decoded.envelopes().filter(|e| decode_envelope(e, &limits).is_ok()).count())
    })?;
    let split = time_us(rounds, || Ok(decode_frame(&frame, &limits)?.envelopes().map(<[u8]>::len).sum::<usize>()))?;
    println!(
        "{{\"mode\":\"probe\",\"frame_bytes\":{},\"envelopes\":{FRAME_OF},\"us_per_frame\":{{\"build_no_zstd\":{build_plain:.1},\"build_default\":{build_default:.1},\"zstd_fresh_ctx\":{fresh:.1},\"zstd_reused_ctx\":{reused:.1},\"zstd_level_minus5\":{fast:.1},\"zstd_4k_sample\":{sample:.1},\"decode_and_check\":{decode:.1},\"decode_frame_only\":{split:.1}}}}}",
        frame.len()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let pool = envelopes()?;
    if args.probe {
        return probe(&pool);
    }
    let url = format!("127.0.0.1:{}", args.port);
    let mode = match (args.framed, args.zstd) {
        (false, _) => "plain",
        (true, true) => "framed",
        (true, false) => "framed-raw",
    };
    let frame_options = if args.zstd {
        FrameOptions::default()
    } else {
        FrameOptions { compression_threshold: usize::MAX, ..FrameOptions::default() }
    };
    let subject = format!("bench.{}.rust.{mode}", std::process::id());
    let subscriber_client = async_nats::connect(&url).await?;
    let publisher = async_nats::connect(&url).await?;
    let mut subscription = subscriber_client.subscribe(subject.clone()).await?;
    subscriber_client.flush().await?;
    tokio::time::sleep(Duration::from_millis(50)).await; // let the server register the SUB

    let delivered = Arc::new(AtomicU64::new(0));
    let malformed = Arc::new(AtomicU64::new(0));
    let framed = args.framed;
    let frame_of = args.frame_of;
    let (count, bad) = (delivered.clone(), malformed.clone());
    tokio::spawn(async move {
        let limits = Limits::default();
        while let Some(message) = subscription.next().await {
            let n = if framed {
                match decode_frame(&message.payload, &limits) {
                    // As the engine: the envelope header is checked here, the full decode is JS's.
                    Ok(frame) => frame.envelopes().filter(|e| e.starts_with(&[0x9a, ENVELOPE_VERSION])).count() as u64,
                    Err(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                        0
                    }
                }
            } else {
                1
            };
            count.fetch_add(n, Ordering::Relaxed);
        }
    });

    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let (halt, sent, seen) = (stop.clone(), published.clone(), delivered.clone());
    let publishing = tokio::spawn(async move {
        let mut i = 0usize;
        while !halt.load(Ordering::Relaxed) && sent.load(Ordering::Relaxed) < MAX_PUBLISH {
            if sent.load(Ordering::Relaxed).saturating_sub(seen.load(Ordering::Relaxed)) > WINDOW {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            if framed {
                // As the engine: one batch of up to 1024 split into frames, zstd judged once.
                let batch = (0..POOL).map(|k| pool[(i + k) % POOL].as_ref());
                let cut = FrameCut { max_envelopes: frame_of, target_bytes: usize::MAX };
                for (frame, _) in split_into_frames(batch, cut, frame_options)? {
                    publisher.publish(subject.clone(), Bytes::from(frame)).await?;
                }
                i += POOL;
                sent.fetch_add(POOL as u64, Ordering::Relaxed);
            } else {
                for _ in 0..FRAME_OF {
                    publisher.publish(subject.clone(), pool[i % POOL].clone()).await?;
                    i += 1;
                }
                sent.fetch_add(FRAME_OF as u64, Ordering::Relaxed);
            }
        }
        publisher.flush().await?;
        Ok::<(), Box<dyn Error + Send + Sync>>(())
    });

    tokio::time::sleep(args.warm).await;
    let (d0, p0, t0) = (delivered.load(Ordering::Relaxed), published.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(args.secs).await;
    let (d1, p1, elapsed) = (delivered.load(Ordering::Relaxed), published.load(Ordering::Relaxed), t0.elapsed());
    stop.store(true, Ordering::Relaxed);
    if let Ok(Ok(Err(err))) = tokio::time::timeout(Duration::from_secs(5), publishing).await {
        return Err(err.to_string().into());
    }
    let seconds = elapsed.as_secs_f64();
    println!(
        "{{\"mode\":\"{}\",\"msgs_per_sec\":{:.0},\"published_per_sec\":{:.0},\"malformed\":{}}}",
        mode,
        (d1 - d0) as f64 / seconds,
        (p1 - p0) as f64 / seconds,
        malformed.load(Ordering::Relaxed)
    );
    Ok(())
}
