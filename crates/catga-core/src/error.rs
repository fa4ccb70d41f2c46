//! Typed errors with stable codes. The codes are part of the public contract: the N-API layer
//! passes them to JavaScript unchanged as `CatgaError.code`.

use std::fmt;

/// Stable, machine-readable error codes shared by Rust and TypeScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Input bytes are not a valid envelope or frame (truncated, wrong magic, bad MessagePack).
    Decode,
    /// Input bytes use a wire version this build does not understand.
    UnsupportedVersion,
    /// A configured size or count limit was exceeded (including zip bombs).
    Limit,
    /// A value could not be encoded.
    Encode,
    /// zstd failed to compress or decompress.
    Compression,
    /// An argument is out of its allowed range.
    InvalidArgument,
    /// A request got no reply in time.
    Timeout,
    /// Nobody serves the subject (NATS "no responders").
    NoHandler,
    /// The connection is down (or could not be made) and the policy is to fail fast.
    NotConnected,
    /// Too many requests in flight or bytes pending, and the policy is `reject`.
    Backpressure,
    /// The engine is closing or closed; no new work is taken.
    Closed,
    /// Any other transport failure.
    Transport,
}

impl ErrorCode {
    /// The stable string form, e.g. `CATGA_DECODE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Decode => "CATGA_DECODE",
            ErrorCode::UnsupportedVersion => "CATGA_UNSUPPORTED_VERSION",
            ErrorCode::Limit => "CATGA_LIMIT",
            ErrorCode::Encode => "CATGA_ENCODE",
            ErrorCode::Compression => "CATGA_COMPRESSION",
            ErrorCode::InvalidArgument => "CATGA_INVALID_ARGUMENT",
            ErrorCode::Timeout => "CATGA_TIMEOUT",
            ErrorCode::NoHandler => "CATGA_NO_HANDLER",
            ErrorCode::NotConnected => "CATGA_NOT_CONNECTED",
            ErrorCode::Backpressure => "CATGA_BACKPRESSURE",
            ErrorCode::Closed => "CATGA_CLOSED",
            ErrorCode::Transport => "CATGA_TRANSPORT",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from the wire core: a stable [`ErrorCode`] plus a message naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CatgaError {
    pub code: ErrorCode,
    pub message: String,
}

impl CatgaError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Decode, message)
    }

    pub fn limit(what: &str, actual: usize, limit: usize) -> Self {
        Self::new(ErrorCode::Limit, format!("{what} is {actual}, above the limit of {limit}"))
    }

    pub fn invalid_argument(field: &str, reason: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidArgument, format!("{field}: {reason}"))
    }
}

pub type Result<T> = std::result::Result<T, CatgaError>;
