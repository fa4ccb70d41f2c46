//! Consistent-hash ring with virtual nodes and weights, for sharding keys (e.g. aggregate ids)
//! across cluster members. Adding or removing one of N nodes moves about 1/N of the keys.
//!
//! Points are hashed with xxh3 (stable across platforms and versions), so every process maps a
//! key to the same node. `lookup` hashes and binary-searches; it allocates nothing.

use xxhash_rust::xxh3::xxh3_64;

use crate::error::{CatgaError, Result};

/// Most virtual nodes a single node may own (weight × vnodes), to bound memory per node.
pub const MAX_POINTS_PER_NODE: u32 = 65_536;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    id: String,
    weight: u32,
}

/// A consistent-hash ring.
#[derive(Debug, Clone)]
pub struct HashRing {
    virtual_nodes: u32,
    nodes: Vec<Node>,
    /// (hash, index into `nodes`), sorted by hash.
    points: Vec<(u64, u32)>,
}

impl HashRing {
    /// `virtual_nodes` points per unit of weight; 100–200 gives an even spread.
    pub fn new(virtual_nodes: u32) -> Result<Self> {
        if virtual_nodes == 0 || virtual_nodes > MAX_POINTS_PER_NODE {
            return Err(CatgaError::invalid_argument(
                "virtualNodes",
                format!("must be between 1 and {MAX_POINTS_PER_NODE}, got {virtual_nodes}"),
            ));
        }
        Ok(Self { virtual_nodes, nodes: Vec::new(), points: Vec::new() })
    }

    /// Adds a node, or changes its weight if it is already present.
    pub fn add_node(&mut self, id: &str, weight: u32) -> Result<()> {
        if id.is_empty() {
            return Err(CatgaError::invalid_argument("nodeId", "must not be empty"));
        }
        let points = u64::from(weight) * u64::from(self.virtual_nodes);
        if weight == 0 || points > u64::from(MAX_POINTS_PER_NODE) {
            return Err(CatgaError::invalid_argument(
                "weight",
                format!(
                    "must be at least 1 and weight × virtualNodes at most {MAX_POINTS_PER_NODE}, got {weight} × {}",
                    self.virtual_nodes
                ),
            ));
        }
        if self.nodes.len() >= u32::MAX as usize {
            return Err(CatgaError::invalid_argument("nodeId", "ring is full"));
        }
        self.remove_node(id);
        let index = self.nodes.len() as u32;
        self.nodes.push(Node { id: id.to_owned(), weight });
        let mut label = Vec::with_capacity(id.len() + 12);
        for replica in 0..points as u32 {
            label.clear();
            label.extend_from_slice(id.as_bytes());
            label.push(b'#');
            label.extend_from_slice(replica.to_string().as_bytes());
            self.points.push((xxh3_64(&label), index));
        }
        // Ties (equal hashes) are broken by node id so every process builds the same ring.
        let nodes = &self.nodes;
        self.points
            .sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| nodes[a.1 as usize].id.cmp(&nodes[b.1 as usize].id)));
        Ok(())
    }

    /// Removes a node; returns whether it was present.
    pub fn remove_node(&mut self, id: &str) -> bool {
        let Some(index) = self.nodes.iter().position(|n| n.id == id) else {
            return false;
        };
        self.nodes.remove(index);
        let index = index as u32;
        self.points.retain(|p| p.1 != index);
        for point in &mut self.points {
            if point.1 > index {
                point.1 -= 1;
            }
        }
        true
    }

    /// The node that owns `key`, or `None` when the ring is empty.
    pub fn lookup(&self, key: &[u8]) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let hash = xxh3_64(key);
        let at = self.points.partition_point(|p| p.0 < hash);
        let (_, node) = self.points.get(at).or_else(|| self.points.first())?;
        self.nodes.get(*node as usize).map(|n| n.id.as_str())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.nodes.iter().any(|n| n.id == id)
    }

    /// Node ids with their weights, in insertion order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = (&str, u32)> {
        self.nodes.iter().map(|n| (n.id.as_str(), n.weight))
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn virtual_nodes(&self) -> u32 {
        self.virtual_nodes
    }
}

#[cfg(test)]
mod tests {
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
}
