//! The `CTG1` batch frame: many envelopes in one buffer, so a batch crosses N-API and the
//! network once.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CTG1"
//! 4       1     frame version (1)
//! 5       1     flags (bit 0 = body is zstd-compressed; other bits must be 0)
//! 6       4     envelope count, u32 little-endian
//! [10     4     uncompressed body length, u32 LE — only when bit 0 is set]
//! ...           body: count × (u32 LE length, envelope bytes), zstd-compressed when bit 0 is set
//! ```
//! zstd is applied only when the body is above the threshold and compressing saves at least a
//! quarter of its bytes.

use std::borrow::Cow;
use std::ops::Range;

use crate::envelope::{encode_envelope_into, Envelope};
use crate::error::{CatgaError, ErrorCode, Result};
use crate::limits::Limits;

/// The first four bytes of every frame.
pub const FRAME_MAGIC: [u8; 4] = *b"CTG1";
/// Frame version written by this build and the only one it reads.
pub const FRAME_VERSION: u8 = 1;
/// Flags bit set when the body is zstd-compressed.
pub const FLAG_ZSTD: u8 = 0b0000_0001;
const KNOWN_FLAGS: u8 = FLAG_ZSTD;
const HEADER_LEN: usize = 10;
const LEN_PREFIX: usize = 4;

/// How frames are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOptions {
    /// Compress bodies larger than this many bytes (when it wins). `usize::MAX` disables zstd.
    pub compression_threshold: usize,
    /// zstd level; 1 favours latency, which suits messaging.
    pub compression_level: i32,
    /// Size and count caps a frame must respect, building and decoding.
    pub limits: Limits,
}

impl Default for FrameOptions {
    fn default() -> Self {
        Self { compression_threshold: 1024, compression_level: 1, limits: Limits::default() }
    }
}

impl FrameOptions {
    /// Checks the limits and that the zstd level is one zstd accepts.
    pub fn validate(&self) -> Result<()> {
        self.limits.validate()?;
        let levels = zstd_levels();
        if !levels.contains(&self.compression_level) {
            return Err(CatgaError::invalid_argument(
                "compressionLevel",
                format!("must be between {} and {}", levels.start(), levels.end()),
            ));
        }
        Ok(())
    }
}

/// Builds a frame envelope by envelope, writing each straight into the output buffer.
#[derive(Debug)]
pub struct FrameBuilder {
    buf: Vec<u8>,
    count: usize,
    options: FrameOptions,
}

impl FrameBuilder {
    /// An empty frame builder.
    pub fn new(options: FrameOptions) -> Self {
        Self::with_capacity(options, 256)
    }

    /// An empty frame builder with room for `capacity` body bytes before it grows.
    pub fn with_capacity(options: FrameOptions, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_LEN + capacity);
        buf.extend_from_slice(&FRAME_MAGIC);
        buf.push(FRAME_VERSION);
        buf.push(0);
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self { buf, count: 0, options }
    }

    /// Envelopes pushed so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no envelope was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the (uncompressed) body so far.
    pub fn body_len(&self) -> usize {
        self.buf.len() - HEADER_LEN
    }

    fn check_room(&self, additional: usize) -> Result<()> {
        let limits = &self.options.limits;
        if self.count + 1 > limits.max_batch_count {
            return Err(CatgaError::limit("batch message count", self.count + 1, limits.max_batch_count));
        }
        let size = self.buf.len() + LEN_PREFIX + additional;
        if size > limits.max_batch_bytes {
            return Err(CatgaError::limit("batch size in bytes", size, limits.max_batch_bytes));
        }
        Ok(())
    }

    /// Appends an envelope that is already MessagePack-encoded.
    pub fn push_encoded(&mut self, envelope: &[u8]) -> Result<()> {
        let limits = &self.options.limits;
        if envelope.len() > limits.max_envelope_bytes {
            return Err(CatgaError::limit("envelope size in bytes", envelope.len(), limits.max_envelope_bytes));
        }
        self.check_room(envelope.len())?;
        self.buf.extend_from_slice(&(envelope.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(envelope);
        self.count += 1;
        Ok(())
    }

    /// Encodes and appends an envelope without an intermediate buffer.
    pub fn push_envelope(&mut self, envelope: &Envelope<'_>) -> Result<()> {
        self.check_room(0)?;
        let prefix_at = self.buf.len();
        self.buf.extend_from_slice(&[0; LEN_PREFIX]);
        let written = match encode_envelope_into(envelope, &mut self.buf, &self.options.limits) {
            Ok(written) => written,
            Err(err) => {
                self.buf.truncate(prefix_at);
                return Err(err);
            }
        };
        if self.buf.len() > self.options.limits.max_batch_bytes {
            let size = self.buf.len();
            self.buf.truncate(prefix_at);
            return Err(CatgaError::limit("batch size in bytes", size, self.options.limits.max_batch_bytes));
        }
        self.buf[prefix_at..prefix_at + LEN_PREFIX].copy_from_slice(&(written as u32).to_le_bytes());
        self.count += 1;
        Ok(())
    }

    /// Writes the count and compresses the body when that pays.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.buf[6..HEADER_LEN].copy_from_slice(&(self.count as u32).to_le_bytes());
        let body_len = self.buf.len() - HEADER_LEN;
        if body_len <= self.options.compression_threshold {
            return Ok(self.buf);
        }
        let body = &self.buf[HEADER_LEN..];
        if !worth_compressing(body, self.options.compression_level)? {
            return Ok(self.buf);
        }
        let compressed = zstd_compress(body, self.options.compression_level)?;
        if !saves_enough(compressed.len() + LEN_PREFIX, body_len) {
            return Ok(self.buf);
        }
        let mut out = Vec::with_capacity(HEADER_LEN + LEN_PREFIX + compressed.len());
        out.extend_from_slice(&self.buf[..HEADER_LEN]);
        out[5] = FLAG_ZSTD;
        out.extend_from_slice(&(body_len as u32).to_le_bytes());
        out.extend_from_slice(&compressed);
        Ok(out)
    }
}

/// The zstd levels this build accepts.
pub fn zstd_levels() -> std::ops::RangeInclusive<i32> {
    zstd::compression_level_range()
}

thread_local! {
    // zstd contexts are costly to set up (~10 µs each); one per thread is reused across calls.
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn compression_error(err: std::io::Error) -> CatgaError {
    CatgaError::new(ErrorCode::Compression, format!("zstd compress: {err}"))
}

/// Compresses `data` with zstd at `level`.
pub fn zstd_compress(data: &[u8], level: i32) -> Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if !matches!(&*slot, Some((current, _)) if *current == level) {
            let compressor = zstd::bulk::Compressor::new(level).map_err(compression_error)?;
            *slot = Some((level, compressor));
        }
        match slot.as_mut() {
            Some((_, compressor)) => compressor.compress(data).map_err(compression_error),
            None => Err(CatgaError::new(ErrorCode::Compression, "zstd compressor unavailable")),
        }
    })
}

/// Decompresses zstd `data` into at most `max_bytes`; larger output is an error, so this is
/// safe on untrusted input.
pub fn zstd_decompress(data: &[u8], max_bytes: usize) -> Result<Vec<u8>> {
    decompress_reusing_context(data, max_bytes).map_err(|err| {
        CatgaError::new(
            ErrorCode::Compression,
            format!("zstd data does not decompress within {max_bytes} bytes: {err}"),
        )
    })
}

/// Decompresses with this thread's decompression context, made on first use. A fresh context per
/// call (`zstd::bulk::decompress`) allocated and zeroed ~100 KiB each time: 2.3 % of the whole
/// machine's CPU in the sharded-send bench, more than the decompression itself.
fn decompress_reusing_context(data: &[u8], max_bytes: usize) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        match slot.as_mut() {
            Some(decompressor) => decompressor.decompress(data, max_bytes),
            None => Err(std::io::Error::other("zstd decompressor unavailable")),
        }
    })
}

/// Bodies larger than this are first judged on a sample of this size.
const SAMPLE_BYTES: usize = 4096;

/// zstd is kept only when it saves at least a quarter of the bytes. Below that the CPU costs more
/// than the bytes save on any network faster than a few hundred Mbit/s: level 1 compresses
/// ~180 MB/s per core on the bench machine, so a frame that shrinks by 13 % (envelopes with
/// random 256 B payloads) paid ~1.9 µs per message to save 43 B (benches/RESULTS.md).
fn saves_enough(compressed: usize, original: usize) -> bool {
    compressed.saturating_mul(4) <= original.saturating_mul(3)
}

/// Whether compressing `body` is likely to pay. Compressing a large body that does not shrink
/// enough costs ~90 µs per 40 KB for nothing (measured, benches/RESULTS.md), so a large body is
/// judged by compressing its first 4 KiB first.
fn worth_compressing(body: &[u8], level: i32) -> Result<bool> {
    if body.len() <= 2 * SAMPLE_BYTES {
        return Ok(true);
    }
    let sample = zstd_compress(&body[..SAMPLE_BYTES], level)?;
    Ok(saves_enough(sample.len(), SAMPLE_BYTES))
}

/// Most bytes a frame cut at a target reserves up front in [`split_into_frames`]; larger ones
/// grow as needed, and frames with no target start small (request groups are often tiny).
const FRAME_CAPACITY_CAP: usize = 64 * 1024;
const FRAME_CAPACITY_UNCUT: usize = 256;

/// Where [`split_into_frames`] starts a new frame, besides the hard limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCut {
    /// At most this many envelopes per frame.
    pub max_envelopes: usize,
    /// A frame is closed before its body would pass this many (uncompressed) bytes; an envelope
    /// larger than that travels alone. nats-server moves mid-sized messages for less CPU per
    /// byte than large ones (benches/RESULTS.md), so event frames are cut at ~16 KiB.
    pub target_bytes: usize,
}

/// Packs already-encoded envelopes, in order, into as many frames as the limits and `cut`
/// require; each frame comes with its envelope count. Fails only for an envelope too large to
/// travel even alone. One split is one kind of payload, so the first frame large enough to try
/// zstd on decides for the rest: when it does not compress, the rest skip the attempt (a failed
/// try costs more per envelope the smaller the frames); when it does, the rest ignore
/// `cut.target_bytes` (zstd wins more on large bodies, and the server sees compressed bytes).
pub fn split_into_frames<'b>(
    envelopes: impl IntoIterator<Item = &'b [u8]>,
    mut cut: FrameCut,
    mut options: FrameOptions,
) -> Result<Vec<(Vec<u8>, usize)>> {
    let mut frames = Vec::new();
    // A frame cut at a target is sized for it up front: growing a 16 KiB frame from 256 bytes
    // cost six reallocations and copies per frame.
    let capacity = |cut: &FrameCut| match cut.target_bytes {
        usize::MAX => FRAME_CAPACITY_UNCUT,
        target => target.min(FRAME_CAPACITY_CAP),
    };
    let mut builder = FrameBuilder::with_capacity(options, capacity(&cut));
    let max_envelopes = cut.max_envelopes.max(1);
    let mut ship = |builder: &mut FrameBuilder, cut: &mut FrameCut| -> Result<()> {
        let (count, tried) = (builder.len(), builder.body_len() > options.compression_threshold);
        let frame = std::mem::replace(builder, FrameBuilder::with_capacity(options, capacity(cut))).finish()?;
        if tried {
            if frame.get(5).is_some_and(|flags| flags & FLAG_ZSTD != 0) {
                cut.target_bytes = usize::MAX;
            } else {
                options.compression_threshold = usize::MAX;
                builder.options = options;
            }
        }
        frames.push((frame, count));
        Ok(())
    };
    for envelope in envelopes {
        let past_target = builder.body_len() + LEN_PREFIX + envelope.len() > cut.target_bytes;
        if !builder.is_empty() && (builder.len() >= max_envelopes || past_target) {
            ship(&mut builder, &mut cut)?;
        }
        if let Err(err) = builder.push_encoded(envelope) {
            if builder.is_empty() {
                return Err(err);
            }
            // Full: ship this frame and start the next one.
            ship(&mut builder, &mut cut)?;
            builder.push_encoded(envelope)?;
        }
    }
    if !builder.is_empty() {
        ship(&mut builder, &mut cut)?;
    }
    Ok(frames)
}

/// Frames already-encoded envelopes.
pub fn encode_frame<B: AsRef<[u8]>>(envelopes: &[B], options: &FrameOptions) -> Result<Vec<u8>> {
    let capacity = envelopes.iter().map(|e| e.as_ref().len() + LEN_PREFIX).sum();
    let mut builder = FrameBuilder::with_capacity(*options, capacity);
    for envelope in envelopes {
        builder.push_encoded(envelope.as_ref())?;
    }
    builder.finish()
}

/// A decoded frame: the body (borrowed from the input when it was not compressed) and the
/// byte range of each envelope inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame<'a> {
    /// The input itself when uncompressed (ranges index into it), else the decompressed body.
    pub body: Cow<'a, [u8]>,
    /// Where each envelope lies in `body`, in frame order.
    pub ranges: Vec<Range<usize>>,
    /// Whether the body was zstd-compressed on the wire.
    pub compressed: bool,
}

impl DecodedFrame<'_> {
    /// Number of envelopes in the frame.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the frame holds no envelope.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The envelopes' bytes, in frame order.
    pub fn envelopes(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.ranges.iter().map(|range| &self.body[range.clone()])
    }
}

fn read_u32(bytes: &[u8], at: usize, what: &str) -> Result<usize> {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(|b: [u8; 4]| u32::from_le_bytes(b) as usize)
        .ok_or_else(|| CatgaError::decode(format!("frame truncated while reading {what} at byte {at}")))
}

/// Decodes a frame header and splits its body into envelope ranges. Envelopes themselves are
/// decoded lazily by the caller with [`crate::decode_envelope`].
pub fn decode_frame<'a>(bytes: &'a [u8], limits: &Limits) -> Result<DecodedFrame<'a>> {
    if bytes.len() > limits.max_batch_bytes {
        return Err(CatgaError::limit("batch size in bytes", bytes.len(), limits.max_batch_bytes));
    }
    if bytes.len() < HEADER_LEN {
        return Err(CatgaError::decode(format!(
            "frame truncated: {} bytes, the header alone is {HEADER_LEN}",
            bytes.len()
        )));
    }
    if bytes[..4] != FRAME_MAGIC {
        return Err(CatgaError::decode("frame magic is not CTG1"));
    }
    if bytes[4] != FRAME_VERSION {
        return Err(CatgaError::new(
            ErrorCode::UnsupportedVersion,
            format!("frame version {} is not supported (this build reads version {FRAME_VERSION})", bytes[4]),
        ));
    }
    let flags = bytes[5];
    if flags & !KNOWN_FLAGS != 0 {
        return Err(CatgaError::decode(format!("frame has unknown flags {flags:#010b}")));
    }
    let count = read_u32(bytes, 6, "envelope count")?;
    if count > limits.max_batch_count {
        return Err(CatgaError::limit("batch message count", count, limits.max_batch_count));
    }
    let compressed = flags & FLAG_ZSTD != 0;
    let (body, body_start): (Cow<'a, [u8]>, usize) = if compressed {
        let declared = read_u32(bytes, HEADER_LEN, "uncompressed length")?;
        if declared > limits.max_decompressed_bytes {
            return Err(CatgaError::limit("declared decompressed size", declared, limits.max_decompressed_bytes));
        }
        // The capacity is the checked declared size: zstd fails rather than grow past it.
        let body = decompress_reusing_context(&bytes[HEADER_LEN + LEN_PREFIX..], declared).map_err(|err| {
            CatgaError::new(
                ErrorCode::Compression,
                format!("zstd body does not decompress within {declared} bytes: {err}"),
            )
        })?;
        if body.len() != declared {
            return Err(CatgaError::decode(format!(
                "decompressed body is {} bytes, header declared {declared}",
                body.len()
            )));
        }
        (Cow::Owned(body), 0)
    } else {
        (Cow::Borrowed(bytes), HEADER_LEN)
    };
    let ranges = split_body(&body, body_start, count, limits)?;
    Ok(DecodedFrame { body, ranges, compressed })
}

fn split_body(body: &[u8], start: usize, count: usize, limits: &Limits) -> Result<Vec<Range<usize>>> {
    // Each entry needs at least its 4-byte prefix, so a count the body cannot hold is rejected
    // before the ranges vector is sized by it.
    let room = (body.len() - start) / LEN_PREFIX;
    if count > room {
        return Err(CatgaError::decode(format!(
            "frame declares {count} envelopes but its body can hold at most {room}"
        )));
    }
    let mut ranges = Vec::with_capacity(count);
    let mut at = start;
    for index in 0..count {
        let len = read_u32(body, at, "envelope length")?;
        if len > limits.max_envelope_bytes {
            return Err(CatgaError::limit("envelope size in bytes", len, limits.max_envelope_bytes));
        }
        let begin = at + LEN_PREFIX;
        let end = begin
            .checked_add(len)
            .filter(|end| *end <= body.len())
            .ok_or_else(|| CatgaError::decode(format!("frame truncated inside envelope {index}")))?;
        ranges.push(begin..end);
        at = end;
    }
    if at != body.len() {
        return Err(CatgaError::decode(format!("frame has {} trailing bytes", body.len() - at)));
    }
    Ok(ranges)
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
