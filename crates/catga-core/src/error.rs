//! Typed errors with stable codes. The codes are part of the public contract: the N-API layer
//! passes them to JavaScript unchanged as `CatgaError.code`.
//!
//! Invariant: every code is declared once, in the `error_codes!` list below, which generates the
//! enum, its string form and [`ErrorCode::ALL`]; `__test__/native/error-codes.test.ts` checks
//! that each of them is in the TypeScript `ErrorCodes`.

use std::fmt;

/// Declares [`ErrorCode`] from one list of `Variant => "CATGA_…"`, so the enum, `as_str` and
/// `ALL` cannot disagree.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $code:literal,)+) => {
        /// Stable, machine-readable error codes shared by Rust and TypeScript.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The stable string form, e.g. `CATGA_DECODE`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// Input bytes are not a valid envelope or frame (truncated, wrong magic, bad MessagePack).
    Decode => "CATGA_DECODE",
    /// Input bytes use a wire version this build does not understand.
    UnsupportedVersion => "CATGA_UNSUPPORTED_VERSION",
    /// A configured size or count limit was exceeded (including zip bombs).
    Limit => "CATGA_LIMIT",
    /// A value could not be encoded.
    Encode => "CATGA_ENCODE",
    /// zstd failed to compress or decompress.
    Compression => "CATGA_COMPRESSION",
    /// An argument is out of its allowed range.
    InvalidArgument => "CATGA_INVALID_ARGUMENT",
    /// A request got no reply in time.
    Timeout => "CATGA_TIMEOUT",
    /// Nobody serves the subject (NATS "no responders").
    NoHandler => "CATGA_NO_HANDLER",
    /// The connection is down (or could not be made) and the policy is to fail fast.
    NotConnected => "CATGA_NOT_CONNECTED",
    /// Too many requests in flight or bytes pending, and the policy is `reject`.
    Backpressure => "CATGA_BACKPRESSURE",
    /// The engine is closing or closed; no new work is taken.
    Closed => "CATGA_CLOSED",
    /// Any other transport failure.
    Transport => "CATGA_TRANSPORT",
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

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
