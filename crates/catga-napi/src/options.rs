//! JS option objects and their validation into core types. Unset fields take the core defaults;
//! set fields out of range are rejected, never clamped.

use catga_core::{FrameOptions, Limits};
use napi_derive::napi;

use crate::error::{invalid_argument, to_js, Result};

/// Size and count caps; any field left out keeps its default.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct LimitsInput {
    /// Largest single envelope in bytes (default 1 MiB).
    pub max_envelope_bytes: Option<f64>,
    /// Most envelopes in one batch (default 4096).
    pub max_batch_count: Option<f64>,
    /// Largest frame in bytes (default 16 MiB).
    pub max_batch_bytes: Option<f64>,
    /// Largest size a compressed frame may expand to (default 16 MiB).
    pub max_decompressed_bytes: Option<f64>,
}

/// How batches are framed.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct FrameOptionsInput {
    /// Compress bodies above this many bytes when zstd makes them smaller (default 1024);
    /// `Infinity` disables compression.
    pub compression_threshold: Option<f64>,
    /// zstd level (default 1).
    pub compression_level: Option<i32>,
    pub limits: Option<LimitsInput>,
}

fn size(field: &str, value: Option<f64>, default: usize) -> Result<usize> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => Ok(v as usize),
        Some(v) => Err(invalid_argument(field, format!("must be a whole number between 0 and 4294967295, got {v}"))),
    }
}

pub fn limits(input: Option<&LimitsInput>) -> Result<Limits> {
    let defaults = Limits::default();
    let Some(input) = input else {
        return Ok(defaults);
    };
    let limits = Limits {
        max_envelope_bytes: size("limits.maxEnvelopeBytes", input.max_envelope_bytes, defaults.max_envelope_bytes)?,
        max_batch_count: size("limits.maxBatchCount", input.max_batch_count, defaults.max_batch_count)?,
        max_batch_bytes: size("limits.maxBatchBytes", input.max_batch_bytes, defaults.max_batch_bytes)?,
        max_decompressed_bytes: size(
            "limits.maxDecompressedBytes",
            input.max_decompressed_bytes,
            defaults.max_decompressed_bytes,
        )?,
    };
    limits.validate().map_err(to_js)?;
    Ok(limits)
}

pub fn frame_options(input: Option<&FrameOptionsInput>) -> Result<FrameOptions> {
    let defaults = FrameOptions::default();
    let Some(input) = input else {
        return Ok(defaults);
    };
    let compression_threshold = match input.compression_threshold {
        None => defaults.compression_threshold,
        Some(v) if v == f64::INFINITY => usize::MAX,
        other => size("compressionThreshold", other, defaults.compression_threshold)?,
    };
    let options = FrameOptions {
        compression_threshold,
        compression_level: input.compression_level.unwrap_or(defaults.compression_level),
        limits: limits(input.limits.as_ref())?,
    };
    options.validate().map_err(to_js)?;
    Ok(options)
}
