//! Unit tests of `ring` (kept apart so the module reads as production code only).
use super::*;

const KEYS: usize = 20_000;

fn ring(n: usize) -> HashRing {
    let mut ring = HashRing::new(160).unwrap();
    for i in 0..n {
        ring.add_node(&format!("node-{i}"), 1).unwrap();
    }
    ring
}

fn owners(ring: &HashRing) -> Vec<String> {
    (0..KEYS).map(|k| ring.lookup(format!("order-{k}").as_bytes()).unwrap().to_owned()).collect()
}

#[test]
fn empty_ring_has_no_owner() {
    assert_eq!(HashRing::new(10).unwrap().lookup(b"k"), None);
}

#[test]
fn adding_one_node_moves_about_one_nth_and_only_to_it() {
    let mut ring = ring(9);
    let before = owners(&ring);
    ring.add_node("node-9", 1).unwrap();
    let after = owners(&ring);
    let moved: Vec<_> = before.iter().zip(&after).filter(|(a, b)| a != b).collect();
    let fraction = moved.len() as f64 / KEYS as f64;
    assert!((0.06..=0.14).contains(&fraction), "moved {fraction}, expected about 1/10");
    assert!(moved.iter().all(|(_, to)| to.as_str() == "node-9"));
}

#[test]
fn removing_one_node_moves_only_its_keys() {
    let mut ring = ring(10);
    let before = owners(&ring);
    assert!(ring.remove_node("node-3"));
    let after = owners(&ring);
    for (a, b) in before.iter().zip(&after) {
        if a != "node-3" {
            assert_eq!(a, b);
        } else {
            assert_ne!(b, "node-3");
        }
    }
    let moved = before.iter().filter(|a| *a == "node-3").count() as f64 / KEYS as f64;
    assert!((0.06..=0.14).contains(&moved), "moved {moved}, expected about 1/10");
}

#[test]
fn weights_scale_share() {
    let mut ring = HashRing::new(160).unwrap();
    ring.add_node("light", 1).unwrap();
    ring.add_node("heavy", 3).unwrap();
    let heavy = owners(&ring).iter().filter(|o| *o == "heavy").count() as f64 / KEYS as f64;
    assert!((0.65..=0.85).contains(&heavy), "heavy share {heavy}, expected about 0.75");
}

#[test]
fn same_nodes_in_any_order_give_the_same_ring() {
    let mut a = HashRing::new(50).unwrap();
    let mut b = HashRing::new(50).unwrap();
    for id in ["x", "y", "z"] {
        a.add_node(id, 1).unwrap();
    }
    for id in ["z", "x", "y"] {
        b.add_node(id, 1).unwrap();
    }
    assert_eq!(owners(&a), owners(&b));
}

#[test]
fn re_adding_changes_weight_without_duplicates() {
    let mut ring = ring(2);
    ring.add_node("node-0", 2).unwrap();
    assert_eq!(ring.len(), 2);
    assert_eq!(ring.nodes().find(|n| n.0 == "node-0").unwrap().1, 2);
}

#[test]
fn rejects_bad_arguments() {
    assert!(HashRing::new(0).is_err());
    let mut ring = HashRing::new(1000).unwrap();
    assert!(ring.add_node("", 1).is_err());
    assert!(ring.add_node("a", 0).is_err());
    let err = ring.add_node("a", 1000).unwrap_err();
    assert!(err.message.starts_with("weight"), "{}", err.message);
    assert!(!ring.remove_node("missing"));
}
