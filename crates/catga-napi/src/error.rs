//! Maps core errors to JS errors carrying the stable code in `error.code`.

use catga_core::{CatgaError, ErrorCode};

/// The `code` property of a thrown JS error.
#[derive(Debug, Clone, Copy)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

pub type Result<T> = napi::Result<T, Code>;

pub fn to_js(err: CatgaError) -> napi::Error<Code> {
    napi::Error::new(Code(err.code.as_str()), err.message)
}

pub fn invalid_argument(field: &str, reason: impl std::fmt::Display) -> napi::Error<Code> {
    to_js(CatgaError::invalid_argument(field, reason))
}

pub fn code_of(code: ErrorCode) -> Code {
    Code(code.as_str())
}

// napi-rs async functions can only reject with its own `Status` (and must spell their return
// type `napi::Result<T>` for the macro to reject rather than resolve with the error), so for
// them the stable code travels as a `CATGA_…: ` message prefix, which the TS layer
// (`fromNativeError`) lifts back into `error.code`.

pub fn to_js_async(err: CatgaError) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("{}: {}", err.code.as_str(), err.message))
}

/// Re-codes a sync-style error for an async function.
pub fn into_async(err: napi::Error<Code>) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("{}: {}", err.status.0, err.reason))
}

/// Every stable code a native error can carry (`CATGA_DECODE`, ...), so a test can check that
/// the TypeScript `ErrorCodes` lists each of them.
#[napi_derive::napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
}
