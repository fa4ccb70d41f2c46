//! Feeds arbitrary bytes to the frame decoder and to every envelope it yields; any panic or
//! over-allocation is a bug. Run: `cd crates/catga-core && cargo +nightly fuzz run decode_frame`.
#![no_main]

use catga_core::{decode_envelope, decode_frame, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(frame) = decode_frame(data, &limits) {
        for bytes in frame.envelopes() {
            let _ = decode_envelope(bytes, &limits);
        }
    }
    let _ = decode_envelope(data, &limits);
});
