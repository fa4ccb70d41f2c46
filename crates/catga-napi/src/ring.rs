//! The consistent-hash ring as a JS class.

use catga_core::HashRing as CoreRing;
use napi_derive::napi;

use crate::error::{to_js, Result};

/// A node of the ring with its weight.
#[napi(object)]
pub struct RingNode {
    pub id: String,
    pub weight: u32,
}

/// Consistent-hash ring: maps keys (e.g. aggregate ids) to nodes; adding or removing one of N
/// nodes moves about 1/N of the keys.
#[napi(js_name = "NativeHashRing")]
pub struct NativeHashRing {
    inner: CoreRing,
}

#[napi]
impl NativeHashRing {
    /// `virtualNodes` points per unit of weight (default 160).
    #[napi(constructor)]
    pub fn new(virtual_nodes: Option<u32>) -> Result<Self> {
        Ok(Self { inner: CoreRing::new(virtual_nodes.unwrap_or(160)).map_err(to_js)? })
    }

    /// Adds a node or changes its weight (default 1).
    #[napi]
    pub fn add_node(&mut self, id: String, weight: Option<u32>) -> Result<()> {
        self.inner.add_node(&id, weight.unwrap_or(1)).map_err(to_js)
    }

    /// Removes a node; returns whether it was present.
    #[napi]
    pub fn remove_node(&mut self, id: String) -> bool {
        self.inner.remove_node(&id)
    }

    /// The node owning `key`, or `null` when the ring is empty.
    #[napi]
    pub fn lookup(&self, key: String) -> Option<String> {
        self.inner.lookup(key.as_bytes()).map(str::to_owned)
    }

    #[napi]
    pub fn has(&self, id: String) -> bool {
        self.inner.contains(&id)
    }

    #[napi]
    pub fn nodes(&self) -> Vec<RingNode> {
        self.inner.nodes().map(|(id, weight)| RingNode { id: id.to_owned(), weight }).collect()
    }

    #[napi(getter)]
    pub fn size(&self) -> u32 {
        self.inner.len() as u32
    }
}
