//! Envelope and batch codec functions. A batch crosses N-API once in each direction: encode takes
//! all envelopes and returns one frame Buffer; decode returns one body Buffer plus per-message
//! metadata with payload offsets, so JS makes zero-copy `subarray` views.

use std::collections::HashMap;

use catga_core::frame::FrameBuilder;
use catga_core::{decode_envelope, decode_frame, encode_envelope, encode_frame, Envelope, ErrorCode, MessageKind};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::error::{code_of, invalid_argument, to_js, Result};
use crate::options::{frame_options, limits, FrameOptionsInput, LimitsInput};

/// What a message is for.
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    #[napi(value = "command")]
    Command,
    #[napi(value = "query")]
    Query,
    #[napi(value = "event")]
    Event,
    #[napi(value = "reply")]
    Reply,
    #[napi(value = "error")]
    Error,
}

impl From<Kind> for MessageKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Command => MessageKind::Command,
            Kind::Query => MessageKind::Query,
            Kind::Event => MessageKind::Event,
            Kind::Reply => MessageKind::Reply,
            Kind::Error => MessageKind::Error,
        }
    }
}

impl From<MessageKind> for Kind {
    fn from(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Command => Kind::Command,
            MessageKind::Query => Kind::Query,
            MessageKind::Event => Kind::Event,
            MessageKind::Reply => Kind::Reply,
            MessageKind::Error => Kind::Error,
        }
    }
}

/// An envelope to encode. `payload` holds bytes already encoded by the message type's codec.
#[napi(object)]
pub struct EnvelopeInput {
    pub kind: Kind,
    #[napi(js_name = "type")]
    pub message_type: String,
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// Milliseconds since the Unix epoch (defaults to 0 when left out).
    pub created_at_ms: Option<f64>,
    pub headers: Option<HashMap<String, String>>,
    /// Payload codec name (default `msgpack`).
    pub codec: Option<String>,
    pub payload: Buffer,
}

/// A decoded envelope whose payload is a copy.
#[napi(object)]
pub struct DecodedEnvelope {
    pub kind: Kind,
    #[napi(js_name = "type")]
    pub message_type: String,
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub created_at_ms: f64,
    pub headers: HashMap<String, String>,
    pub codec: String,
    pub payload: Buffer,
}

/// One message of a decoded batch; its payload is `body.subarray(payloadOffset, payloadOffset + payloadLength)`.
#[napi(object)]
pub struct BatchMessage {
    pub kind: Kind,
    #[napi(js_name = "type")]
    pub message_type: String,
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub created_at_ms: f64,
    pub headers: HashMap<String, String>,
    pub codec: String,
    pub payload_offset: u32,
    pub payload_length: u32,
}

/// A decoded batch. `body` is set only when the frame was compressed; otherwise payload
/// offsets index into the frame Buffer that was passed in (no copy at all).
#[napi(object)]
pub struct DecodedBatch {
    pub body: Option<Buffer>,
    pub compressed: bool,
    pub messages: Vec<BatchMessage>,
}

/// JS numbers are doubles; only whole, non-negative values up to 2^53 are timestamps.
fn created_at(index: usize, value: Option<f64>) -> Result<u64> {
    match value {
        None => Ok(0),
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0 => Ok(v as u64),
        Some(v) => Err(invalid_argument(
            &format!("envelopes[{index}].createdAtMs"),
            format!("must be a whole non-negative millisecond timestamp, got {v}"),
        )),
    }
}

fn view(index: usize, input: &EnvelopeInput) -> Result<Envelope<'_>> {
    Ok(Envelope {
        version: catga_core::ENVELOPE_VERSION,
        kind: input.kind.into(),
        message_type: &input.message_type,
        message_id: &input.message_id,
        correlation_id: input.correlation_id.as_deref(),
        causation_id: input.causation_id.as_deref(),
        created_at_ms: created_at(index, input.created_at_ms)?,
        headers: input.headers.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        codec: input.codec.as_deref().unwrap_or("msgpack"),
        payload: &input.payload,
    })
}

fn headers(envelope: &Envelope<'_>) -> HashMap<String, String> {
    envelope.headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Encodes one envelope to MessagePack.
#[napi(catch_unwind)]
pub fn encode_envelope_native(envelope: EnvelopeInput, limits_input: Option<LimitsInput>) -> Result<Buffer> {
    let limits = limits(limits_input.as_ref())?;
    let bytes = encode_envelope(&view(0, &envelope)?, &limits).map_err(to_js)?;
    Ok(bytes.into())
}

/// Decodes one envelope; the payload is copied into a new Buffer.
#[napi(catch_unwind)]
pub fn decode_envelope_native(bytes: Buffer, limits_input: Option<LimitsInput>) -> Result<DecodedEnvelope> {
    let limits = limits(limits_input.as_ref())?;
    let env = decode_envelope(&bytes, &limits).map_err(to_js)?;
    Ok(DecodedEnvelope {
        kind: env.kind.into(),
        message_type: env.message_type.to_owned(),
        message_id: env.message_id.to_owned(),
        correlation_id: env.correlation_id.map(str::to_owned),
        causation_id: env.causation_id.map(str::to_owned),
        created_at_ms: env.created_at_ms as f64,
        headers: headers(&env),
        codec: env.codec.to_owned(),
        payload: env.payload.to_vec().into(),
    })
}

/// Encodes envelopes straight into one batch frame (compressed when it pays).
#[napi(catch_unwind)]
pub fn encode_batch_native(envelopes: Vec<EnvelopeInput>, options: Option<FrameOptionsInput>) -> Result<Buffer> {
    let options = frame_options(options.as_ref())?;
    if envelopes.len() > options.limits.max_batch_count {
        return Err(to_js(catga_core::CatgaError::limit(
            "batch message count",
            envelopes.len(),
            options.limits.max_batch_count,
        )));
    }
    let capacity = envelopes.iter().map(|e| e.payload.len() + e.message_type.len() + 96).sum();
    let mut builder = FrameBuilder::with_capacity(options, capacity);
    for (index, input) in envelopes.iter().enumerate() {
        builder
            .push_envelope(&view(index, input)?)
            .map_err(|err| napi::Error::new(code_of(err.code), format!("envelopes[{index}]: {}", err.message)))?;
    }
    Ok(builder.finish().map_err(to_js)?.into())
}

/// Frames envelopes that were already encoded (by `encodeEnvelope` or a JS MessagePack encoder).
#[napi(catch_unwind)]
pub fn frame_encoded_native(envelopes: Vec<Buffer>, options: Option<FrameOptionsInput>) -> Result<Buffer> {
    let options = frame_options(options.as_ref())?;
    let slices: Vec<&[u8]> = envelopes.iter().map(|b| &b[..]).collect();
    Ok(encode_frame(&slices, &options).map_err(to_js)?.into())
}

/// Decodes a batch frame and every envelope in it in one call.
#[napi(catch_unwind)]
pub fn decode_batch_native(frame: Buffer, limits_input: Option<LimitsInput>) -> Result<DecodedBatch> {
    let limits = limits(limits_input.as_ref())?;
    let decoded = decode_frame(&frame, &limits).map_err(to_js)?;
    let base = decoded.body.as_ptr() as usize;
    let mut messages = Vec::with_capacity(decoded.len());
    for (index, bytes) in decoded.envelopes().enumerate() {
        let env = decode_envelope(bytes, &limits)
            .map_err(|err| napi::Error::new(code_of(err.code), format!("envelope {index}: {}", err.message)))?;
        // The payload is a slice of the body; its offset is plain address arithmetic.
        let offset = env.payload.as_ptr() as usize - base;
        messages.push(BatchMessage {
            kind: env.kind.into(),
            message_type: env.message_type.to_owned(),
            message_id: env.message_id.to_owned(),
            correlation_id: env.correlation_id.map(str::to_owned),
            causation_id: env.causation_id.map(str::to_owned),
            created_at_ms: env.created_at_ms as f64,
            headers: headers(&env),
            codec: env.codec.to_owned(),
            payload_offset: offset as u32,
            payload_length: env.payload.len() as u32,
        });
    }
    let compressed = decoded.compressed;
    let body = if compressed { Some(decoded.body.into_owned().into()) } else { None };
    Ok(DecodedBatch { body, compressed, messages })
}

/// zstd-compresses bytes (level 1 by default).
#[napi(catch_unwind)]
pub fn zstd_compress_native(data: Buffer, level: Option<i32>) -> Result<Buffer> {
    let level = level.unwrap_or(1);
    let range = catga_core::frame::zstd_levels();
    if !range.contains(&level) {
        return Err(invalid_argument("level", format!("must be between {} and {}", range.start(), range.end())));
    }
    catga_core::frame::zstd_compress(&data, level).map(Buffer::from).map_err(to_js)
}

/// Decompresses zstd bytes, failing with `CATGA_LIMIT`/`CATGA_COMPRESSION` past `maxBytes`.
#[napi(catch_unwind)]
pub fn zstd_decompress_native(data: Buffer, max_bytes: f64) -> Result<Buffer> {
    if !(max_bytes.is_finite() && max_bytes > 0.0 && max_bytes.fract() == 0.0 && max_bytes <= u32::MAX as f64) {
        return Err(napi::Error::new(
            code_of(ErrorCode::InvalidArgument),
            format!("maxBytes: must be a whole number between 1 and 4294967295, got {max_bytes}"),
        ));
    }
    catga_core::frame::zstd_decompress(&data, max_bytes as usize).map(Buffer::from).map_err(to_js)
}
