//! Unit tests of `batch_buffers` (kept apart so the module reads as production code only).
use super::*;

#[test]
fn a_buffer_given_back_is_taken_again_empty_with_its_memory_and_huge_ones_are_let_go() {
    let mut buffer = Vec::with_capacity(4096);
    buffer.extend_from_slice(b"old batch");
    let memory = buffer.as_ptr();
    give(buffer);
    let again = take();
    assert!(again.is_empty());
    assert_eq!(again.as_ptr(), memory);
    give(Vec::with_capacity(KEEP_CAPACITY + 1));
    assert_eq!(take().capacity(), 0, "a huge buffer is not kept");
}
