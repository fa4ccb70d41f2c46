//! Catga wire core: the bytes side of `@catga/native`.
//!
//! Pure Rust with no N-API: the envelope codec ([`envelope`]), the `CTG1` batch frame with
//! optional zstd ([`frame`]), decode limits ([`limits`]) and the consistent-hash ring ([`ring`]).
//! Every decode path returns [`CatgaError`] on bad input; none panics and none allocates a
//! buffer sized by an untrusted length field without first checking it against [`Limits`].

pub mod envelope;
pub mod error;
pub mod frame;
pub mod limits;
pub mod nats;
pub mod ring;

pub use envelope::{decode_envelope, encode_envelope, Envelope, MessageKind, ENVELOPE_VERSION};
pub use error::{CatgaError, ErrorCode};
pub use frame::{
    decode_frame, encode_frame, split_into_frames, DecodedFrame, FrameCut, FrameOptions, FRAME_MAGIC, FRAME_VERSION,
};
pub use limits::Limits;
pub use ring::HashRing;
