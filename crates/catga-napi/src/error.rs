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
