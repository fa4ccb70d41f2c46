//! Typed errors with stable codes. The codes are part of the public contract: the N-API layer
//! passes them to JavaScript unchanged as `CatgaError.code`.
//!
//! Invariant: every code is declared once, in the `error_codes!` list below, which generates the
//! enum, its string form and [`ErrorCode::ALL`]; `__test__/native/error-codes.test.ts` checks
//! that each of them is in the TypeScript `ErrorCodes`.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

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
    /// The server refused the credentials (authentication) or an operation on a subject
    /// (authorization).
    PermissionDenied => "CATGA_PERMISSION_DENIED",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error that caused a [`CatgaError`] (e.g. async-nats' own), shared so the error stays `Clone`.
pub type Cause = Arc<dyn StdError + Send + Sync + 'static>;

/// An error from the wire core: a stable [`ErrorCode`] plus a message naming what was wrong,
/// and the underlying error, when there is one, as its [`source`](StdError::source).
///
/// Equality compares `code` and `message` only.
#[derive(Debug, Clone)]
pub struct CatgaError {
    /// What kind of failure this is; callers match on it.
    pub code: ErrorCode,
    /// What was wrong, naming the field, subject or operation.
    pub message: String,
    cause: Option<Cause>,
}

impl CatgaError {
    /// An error with `code` and `message` and no underlying cause.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), cause: None }
    }

    /// Keeps `cause` as this error's [`source`](StdError::source).
    #[must_use]
    pub fn with_cause(mut self, cause: impl StdError + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// The underlying error, when there is one.
    pub fn cause(&self) -> Option<&Cause> {
        self.cause.as_ref()
    }

    /// Bytes that do not decode (`CATGA_DECODE`).
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Decode, message)
    }

    /// `what` is `actual`, above `limit` (`CATGA_LIMIT`).
    pub fn limit(what: &str, actual: usize, limit: usize) -> Self {
        Self::new(ErrorCode::Limit, format!("{what} is {actual}, above the limit of {limit}"))
    }

    /// `field` is out of its allowed range, for `reason` (`CATGA_INVALID_ARGUMENT`).
    pub fn invalid_argument(field: &str, reason: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidArgument, format!("{field}: {reason}"))
    }
}

impl fmt::Display for CatgaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CatgaError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause.as_deref().map(|cause| cause as &(dyn StdError + 'static))
    }
}

impl PartialEq for CatgaError {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.message == other.message
    }
}

impl Eq for CatgaError {}

/// `Result` with [`CatgaError`].
pub type Result<T> = std::result::Result<T, CatgaError>;

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
