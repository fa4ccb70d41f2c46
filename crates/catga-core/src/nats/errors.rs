//! async-nats failures as coded [`CatgaError`]s. Invariant: the code says what the caller can do
//! (retry, fix the subject, shrink the message); the message names the subject or operation and
//! includes async-nats' text.

use crate::error::{CatgaError, ErrorCode};

/// A transport failure of `what` (e.g. `"flush"`), coded `CATGA_TRANSPORT`.
pub(crate) fn transport(what: &str, err: impl std::fmt::Display) -> CatgaError {
    CatgaError::new(ErrorCode::Transport, format!("{what}: {err}"))
}

/// Maps a publish failure to a coded error naming the subject.
pub(crate) fn publish_error(subject: &str, e: async_nats::client::PublishError) -> CatgaError {
    match e.kind() {
        async_nats::client::PublishErrorKind::InvalidSubject => {
            CatgaError::invalid_argument("subject", format!("{subject:?} is not a valid NATS subject"))
        }
        async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
            CatgaError::new(ErrorCode::Limit, format!("message on {subject} exceeds the server's max_payload"))
        }
        _ => transport(&format!("publish to {subject}"), e),
    }
}

/// Work refused because the engine has closed.
pub(crate) fn closed() -> CatgaError {
    CatgaError::new(ErrorCode::Closed, "the NATS connection is closed")
}
