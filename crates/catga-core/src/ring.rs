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

    /// Whether node `id` is on the ring.
    pub fn contains(&self, id: &str) -> bool {
        self.nodes.iter().any(|n| n.id == id)
    }

    /// Node ids with their weights, in insertion order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = (&str, u32)> {
        self.nodes.iter().map(|n| (n.id.as_str(), n.weight))
    }

    /// Number of nodes (not points).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the ring has no node, so every lookup is `None`.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Points placed on the ring per unit of weight.
    pub fn virtual_nodes(&self) -> u32 {
        self.virtual_nodes
    }
}

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
