//! N-API binding for `catga-core`. It only converts types and errors: every Rust error becomes a
//! JS error whose `code` is the stable Catga code (`CATGA_DECODE`, `CATGA_LIMIT`, ...).

mod codec;
mod error;
mod jetstream;
mod kv;
mod nats;
mod options;
mod ring;
mod runtime;
