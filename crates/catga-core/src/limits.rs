//! Decode limits. Each untrusted length is checked against one of these before anything is
//! allocated for it, so hostile input costs at most the configured bytes.

use crate::error::{CatgaError, Result};

/// Size and count caps applied when encoding and decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single encoded envelope, in bytes.
    pub max_envelope_bytes: usize,
    /// Most envelopes in one batch frame.
    pub max_batch_count: usize,
    /// Largest batch frame on the wire (compressed or not), in bytes.
    pub max_batch_bytes: usize,
    /// Largest body a compressed frame may expand to, in bytes.
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_envelope_bytes: 1024 * 1024,
            max_batch_count: 4096,
            max_batch_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Rejects zero limits: a zero cap would make every message fail, which is never intended.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("maxEnvelopeBytes", self.max_envelope_bytes),
            ("maxBatchCount", self.max_batch_count),
            ("maxBatchBytes", self.max_batch_bytes),
            ("maxDecompressedBytes", self.max_decompressed_bytes),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(CatgaError::invalid_argument(name, "must be greater than 0"));
            }
        }
        // A frame header length field is u32; larger caps could never be reached.
        for (name, value) in fields {
            if value > u32::MAX as usize {
                return Err(CatgaError::invalid_argument(name, "must fit in 32 bits"));
            }
        }
        Ok(())
    }
}
