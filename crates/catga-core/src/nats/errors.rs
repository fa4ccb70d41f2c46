//! async-nats failures as coded [`CatgaError`]s. Invariant: the code says what the caller can do
//! (retry, fix the subject, shrink the message); the message names the subject or operation and
//! includes async-nats' text, and async-nats' error is kept as the cause.

use async_nats::{RequestError, RequestErrorKind};

use crate::error::{CatgaError, ErrorCode};

/// A transport failure of `what` (e.g. `"flush"`), coded `CATGA_TRANSPORT`.
pub(crate) fn transport(what: &str, err: impl std::error::Error + Send + Sync + 'static) -> CatgaError {
    CatgaError::new(ErrorCode::Transport, format!("{what}: {err}")).with_cause(err)
}

/// Maps a publish failure to a coded error naming the subject.
pub(crate) fn publish_error(subject: &str, e: async_nats::client::PublishError) -> CatgaError {
    match e.kind() {
        async_nats::client::PublishErrorKind::InvalidSubject => {
            CatgaError::invalid_argument("subject", format!("{subject:?} is not a valid NATS subject")).with_cause(e)
        }
        async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
            CatgaError::new(ErrorCode::Limit, format!("message on {subject} exceeds the server's max_payload"))
                .with_cause(e)
        }
        _ => transport(&format!("publish to {subject}"), e),
    }
}

/// Maps a request failure to a coded error naming the subject; `timed_out` builds the timeout
/// error (which names a disconnection when there was one).
pub(crate) fn request_error(subject: &str, err: RequestError, timed_out: impl FnOnce() -> CatgaError) -> CatgaError {
    let coded = match err.kind() {
        RequestErrorKind::TimedOut => timed_out(),
        RequestErrorKind::NoResponders => {
            CatgaError::new(ErrorCode::NoHandler, format!("no handler is subscribed to {subject}"))
        }
        RequestErrorKind::InvalidSubject => {
            CatgaError::invalid_argument("subject", format!("{subject:?} is not a valid NATS subject"))
        }
        RequestErrorKind::MaxPayloadExceeded => {
            CatgaError::new(ErrorCode::Limit, format!("request on {subject} exceeds the server's max_payload"))
        }
        RequestErrorKind::Other => return transport(&format!("request on {subject}"), err),
    };
    coded.with_cause(err)
}

/// Work refused because the engine has closed.
pub(crate) fn closed() -> CatgaError {
    CatgaError::new(ErrorCode::Closed, "the NATS connection is closed")
}
