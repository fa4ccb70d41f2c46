//! Criterion benches for the wire core: envelope codec, 128 × 256 B batches with zstd on and
//! off, and ring lookups. Run with `npm run bench:rust`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use catga_core::frame::FrameBuilder;
use catga_core::{
    decode_envelope, decode_frame, encode_envelope, Envelope, FrameOptions, HashRing, Limits, MessageKind,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn payload(size: usize) -> Vec<u8> {
    // Order-like text: realistic for compression, not all zeros.
    let text = "{\"orderId\":\"ord-12345\",\"sku\":\"SKU-778\",\"qty\":3,\"price\":19.99}";
    text.bytes().cycle().take(size).collect()
}

fn envelope<'a>(payload: &'a [u8], id: &'a str) -> Envelope<'a> {
    let mut env = Envelope::new(MessageKind::Command, "orders.place", id, payload);
    env.correlation_id = Some("01935c4e-7d1a-7b3c-9f00-000000000001");
    env.created_at_ms = 1_764_000_000_000;
    env
}

fn bench_envelope(c: &mut Criterion) {
    let body = payload(256);
    let env = envelope(&body, "01935c4e-7d1a-7b3c-9f00-000000000002");
    let limits = Limits::default();
    let bytes = encode_envelope(&env, &limits).unwrap();
    let mut group = c.benchmark_group("envelope_256B");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| b.iter(|| encode_envelope(black_box(&env), &limits).unwrap()));
    group.bench_function("decode", |b| b.iter(|| decode_envelope(black_box(&bytes), &limits).unwrap()));
    group.finish();
}

fn bench_batch(c: &mut Criterion) {
    let body = payload(256);
    let ids: Vec<String> = (0..128).map(|i| format!("01935c4e-7d1a-7b3c-9f00-{i:012}")).collect();
    let envs: Vec<Envelope<'_>> = ids.iter().map(|id| envelope(&body, id)).collect();
    let limits = Limits::default();
    let mut group = c.benchmark_group("batch_128x256B");
    group.throughput(Throughput::Elements(128));
    for (name, threshold) in [("raw", usize::MAX), ("zstd", 1024)] {
        let options = FrameOptions { compression_threshold: threshold, ..FrameOptions::default() };
        group.bench_function(format!("encode_{name}"), |b| {
            b.iter(|| {
                let mut builder = FrameBuilder::with_capacity(options, 128 * 330);
                for env in &envs {
                    builder.push_envelope(black_box(env)).unwrap();
                }
                builder.finish().unwrap()
            })
        });
        let mut builder = FrameBuilder::new(options);
        for env in &envs {
            builder.push_envelope(env).unwrap();
        }
        let frame = builder.finish().unwrap();
        group.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| {
                let decoded = decode_frame(black_box(&frame), &limits).unwrap();
                decoded.envelopes().map(|e| decode_envelope(e, &limits).unwrap().payload.len()).sum::<usize>()
            })
        });
    }
    group.finish();
}

fn bench_ring(c: &mut Criterion) {
    let mut ring = HashRing::new(160).unwrap();
    for i in 0..16 {
        ring.add_node(&format!("node-{i}"), 1).unwrap();
    }
    let keys: Vec<String> = (0..1024).map(|i| format!("order-{i}")).collect();
    let mut i = 0usize;
    c.bench_function("ring_lookup_16_nodes", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            ring.lookup(black_box(keys[i].as_bytes()))
        })
    });
}

criterion_group!(benches, bench_envelope, bench_batch, bench_ring);
criterion_main!(benches);
