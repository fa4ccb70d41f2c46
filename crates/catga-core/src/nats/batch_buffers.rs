//! Recycled byte buffers for inbound batches. A batch's bytes go to JS as an external Buffer;
//! when JS has collected it, its finalizer hands the allocation back here, and the next batch
//! is written into memory that is already mapped. A fresh ~1.4 MB allocation per batch cost page
//! faults and kernel zeroing on one side and an munmap on the other: ~7 % of the subscriber's CPU.

use std::sync::Mutex;

/// Buffers kept at most; a few are enough because JS releases batches in the order it got them.
const KEEP: usize = 8;
/// Larger buffers are let go: a rare burst must not pin its memory.
const KEEP_CAPACITY: usize = 4 * 1024 * 1024;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer, recycled when one is spare.
pub fn take() -> Vec<u8> {
    SPARE.lock().ok().and_then(|mut spare| spare.pop()).unwrap_or_default()
}

/// Returns a buffer whose contents are no longer read; kept for reuse when there is room.
pub fn give(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > KEEP_CAPACITY {
        return;
    }
    buffer.clear();
    if let Ok(mut spare) = SPARE.lock() {
        if spare.len() < KEEP {
            spare.push(buffer);
        }
    }
}

#[cfg(test)]
#[path = "batch_buffers_tests.rs"]
mod tests;
