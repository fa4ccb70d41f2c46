//! Bytes crossing the boundary as Buffers: envelopes read out of one JS Buffer by `(start,
//! length)` offset pairs, and bytes handed to JS without a copy.
//!
//! Invariant: every `unsafe` block of the binding is in this file, each with a `// SAFETY:` note
//! (napi-rs' own generated glue aside).

use bytes::Bytes;
use catga_core::nats::batch_buffers;
use napi::bindgen_prelude::{Buffer, BufferSlice, ToNapiValue, TypeName, ValueType};
use napi::Env;

use crate::error::{invalid_argument, Result};

/// The envelopes `data[offsets[2i]..][..offsets[2i+1]]`, or an error naming the first pair that
/// falls outside `data`.
pub(crate) fn slices<'a>(data: &'a [u8], offsets: &[u32]) -> Result<Vec<&'a [u8]>> {
    if !offsets.len().is_multiple_of(2) {
        return Err(invalid_argument("offsets", "must hold (start, length) pairs"));
    }
    offsets
        .chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| {
            let (start, len) = (pair[0] as usize, pair[1] as usize);
            data.get(start..start.saturating_add(len)).ok_or_else(|| {
                invalid_argument(
                    &format!("offsets[{}]", 2 * i),
                    format!("{start}+{len} is outside data ({} bytes)", data.len()),
                )
            })
        })
        .collect()
}

/// Bytes handed to JS as a Buffer without copying: the Buffer is an external view over the
/// `Bytes` (a received frame, or the batch's own vector), released when JS collects it.
pub enum SharedBuffer {
    /// Bytes received from NATS (a zero-copy frame); freed when JS collects the Buffer.
    Shared(Bytes),
    /// A batch buffer; handed back to `batch_buffers` for reuse when JS collects the Buffer.
    Owned(Vec<u8>),
}

impl TypeName for SharedBuffer {
    fn type_name() -> &'static str {
        "Buffer"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for SharedBuffer {
    /// # Safety
    /// `env` must be the environment of the current N-API call (napi-rs guarantees it).
    unsafe fn to_napi_value(env: napi::sys::napi_env, mut val: Self) -> napi::Result<napi::sys::napi_value> {
        // JS may write through the Buffer: the Vec's pointer is taken as mutable. `Bytes` has no
        // mutable access; its range is this Buffer's alone and Rust never reads it again.
        let (data, len) = match &mut val {
            SharedBuffer::Shared(bytes) => (bytes.as_ptr().cast_mut(), bytes.len()),
            SharedBuffer::Owned(vec) => (vec.as_mut_ptr(), vec.len()),
        };
        if len == 0 {
            // An external buffer needs a non-null pointer; an empty Buffer costs nothing to copy.
            // SAFETY: `env` is the live environment napi-rs passed to this call, on its thread.
            return unsafe { Buffer::to_napi_value(env, Buffer::from(Vec::new())) };
        }
        let env = Env::from_raw(env);
        let slice = match val {
            // SAFETY: `data..data+len` is the heap range of `bytes` (moving a `Bytes` does not move
            // its bytes), which the finalizer keeps alive until JS collects the Buffer; no Rust
            // code reads these bytes after this point.
            SharedBuffer::Shared(bytes) => unsafe {
                BufferSlice::from_external(&env, data, len, bytes, |_env, bytes: Bytes| drop(bytes))
            },
            // SAFETY: as above for the Vec's heap range (moving a Vec does not move its buffer);
            // the finalizer hands the Vec back for reuse only once JS has collected the Buffer.
            SharedBuffer::Owned(vec) => unsafe {
                BufferSlice::from_external(&env, data, len, vec, |_env, vec: Vec<u8>| batch_buffers::give(vec))
            },
        }?;
        // SAFETY: `slice` was just created in this live `env`; this only returns its JS value.
        unsafe { <&BufferSlice<'_>>::to_napi_value(env.raw(), &slice) }
    }
}
