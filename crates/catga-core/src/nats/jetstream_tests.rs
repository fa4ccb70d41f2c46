use super::ConsumerState;

fn state(ack_floor: u64, delivered: u64, ack_pending: u64) -> ConsumerState {
    ConsumerState { ack_floor, delivered, ack_pending }
}

#[test]
fn a_consumer_that_started_clean_is_settled_at_once() {
    let start = state(40, 40, 0);
    assert!(state(40, 40, 0).settled_through(&start));
}

#[test]
fn unacked_messages_of_an_earlier_instance_hold_until_the_floor_passes_them() {
    // A dead instance left 10 of the messages up to 40 unacked; this one has taken more since.
    let start = state(25, 40, 10);
    assert!(!state(25, 60, 30).settled_through(&start));
    assert!(!state(39, 60, 20).settled_through(&start));
    assert!(state(40, 60, 20).settled_through(&start));
    assert!(state(55, 60, 5).settled_through(&start));
}

#[test]
fn nothing_pending_means_settled_whatever_the_floor_reads() {
    let start = state(25, 40, 10);
    assert!(state(0, 60, 0).settled_through(&start));
}
