//! N-API binding for `catga-core`. It only converts types and errors: every Rust error becomes a
//! JS error whose `code` is the stable Catga code (`CATGA_DECODE`, `CATGA_LIMIT`, ...).
//!
//! One concern per file: option objects ([`options`], [`nats_options`]), Buffers and every
//! `unsafe` block ([`buffers`]), error mapping ([`error`]), and the exported functions and
//! classes ([`codec`], [`ring`], [`nats`], [`requests`], [`subscription`], [`kv`], [`jetstream`], [`discovery`]).

mod buffers;
mod codec;
mod consumer;
mod discovery;
mod error;
mod jetstream;
mod kv;
mod nats;
mod nats_options;
mod options;
mod requests;
mod ring;
mod runtime;
mod subscription;
