use super::Held;
use crate::nats::jetstream::Decision;

#[test]
fn a_held_item_is_settled_once_with_the_decision_given() {
    let mut held = Held::default();
    assert!(held.hold(7, "a").is_none());
    assert_eq!(held.len(), 1);
    assert_eq!(held.settle(7, Decision::Ack), Some(("a", Decision::Ack)));
    assert!(held.is_empty());
}

#[test]
fn a_settle_that_comes_before_its_hold_is_applied_when_the_hold_arrives() {
    let mut held = Held::default();
    assert_eq!(held.settle(9, Decision::Ack), None);
    // The hold is answered at once: the item is never kept (nor kept alive) after its settle.
    assert_eq!(held.hold(9, "b"), Some(("b", Decision::Ack)));
    assert!(held.is_empty());
    // Only once: a later hold of the same sequence (a redelivery) is held again.
    assert!(held.hold(9, "c").is_none());
}

#[test]
fn a_redelivery_replaces_the_held_item_and_everything_leaves_in_stream_order() {
    let mut held = Held::default();
    assert!(held.hold(30, "x").is_none());
    assert!(held.hold(10, "y").is_none());
    assert!(held.hold(30, "x2").is_none());
    assert!(held.hold(20, "z").is_none());
    assert_eq!(held.take_all(), vec!["y", "z", "x2"]);
}
