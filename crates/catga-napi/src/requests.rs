//! Batched requests as JS sees them: `requestBatch` starts many requests in one call, and their
//! outcomes come back through the `onReplies` callback, many per call. How the requests travel
//! is decided in catga-core ([`catga_core::nats::plan_requests`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use catga_core::nats::{BatchRequest, Completion};
use napi::bindgen_prelude::{Buffer, Uint32Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

use crate::buffers::slices;
use crate::error::{invalid_argument, to_js, Result};
use crate::nats::NatsClient;

/// Finished requests delivered together: reply i (for `ids[i]`) is
/// `data.subarray(offsets[2i], offsets[2i] + offsets[2i+1])`, or `codes[i]`/`messages[i]` when it failed.
#[napi(object)]
pub struct RepliesJs {
    pub ids: Uint32Array,
    pub data: Buffer,
    pub offsets: Uint32Array,
    pub codes: Vec<Option<String>>,
    pub messages: Vec<Option<String>>,
}

pub(crate) type RepliesCallback = ThreadsafeFunction<RepliesJs, (), RepliesJs, Status, false, true>;

/// Reports finished requests to JS in one call. The task that finished them calls this itself
/// (a framed group reports all its members at once), so no extra task hop sits between the reply
/// and JS; the threadsafe function queues calls, and JS drains them in one wake-up.
fn deliver(on_replies: &RepliesCallback, finished: Vec<Completion>) {
    let mut ids = Vec::with_capacity(finished.len());
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(finished.len() * 2);
    let mut codes = Vec::with_capacity(finished.len());
    let mut messages = Vec::with_capacity(finished.len());
    for (id, outcome) in finished {
        ids.push(id);
        offsets.push(data.len() as u32);
        match outcome {
            Ok(reply) => {
                offsets.push(reply.len() as u32);
                data.extend_from_slice(&reply);
                codes.push(None);
                messages.push(None);
            }
            Err(err) => {
                offsets.push(0);
                codes.push(Some(err.code.as_str().to_owned()));
                messages.push(Some(err.message));
            }
        }
    }
    let replies = RepliesJs {
        ids: Uint32Array::new(ids),
        data: data.into(),
        offsets: Uint32Array::new(offsets),
        codes,
        messages,
    };
    on_replies.call(replies, ThreadsafeFunctionCallMode::NonBlocking);
}

/// Where a connection's finished requests report; empty until `onReplies` is called.
pub(crate) type RepliesSlot = Mutex<Option<Arc<RepliesCallback>>>;

#[napi]
impl NatsClient {
    /// Registers where batched requests report (once per connection): one call per group of
    /// finished requests.
    #[napi]
    pub fn on_replies(
        &self,
        #[napi(ts_arg_type = "(replies: RepliesJs) => void")] on_replies: RepliesCallback,
    ) -> Result<()> {
        match self.on_replies.lock() {
            Ok(mut slot) => *slot = Some(Arc::new(on_replies)),
            Err(_) => return Err(invalid_argument("onReplies", "the connection's state is poisoned")),
        }
        Ok(())
    }

    /// Starts many requests in one call; each reports through `onReplies` with its id when it
    /// finishes. Request i is `data[offsets[2i]..][..offsets[2i+1]]` to `subjects[subjectIndex[i]]`.
    #[napi]
    pub fn request_batch(
        &self,
        ids: Uint32Array,
        subjects: Vec<String>,
        subject_index: Uint32Array,
        data: Buffer,
        offsets: Uint32Array,
        timeout_ms: Option<u32>,
    ) -> Result<()> {
        let envelopes = slices(&data, &offsets)?;
        if envelopes.len() != ids.len() || envelopes.len() != subject_index.len() {
            return Err(invalid_argument("ids", "must have one entry per request"));
        }
        let sender = match self.on_replies.lock() {
            Ok(slot) => slot.clone(),
            Err(_) => None,
        };
        let Some(sender) = sender else {
            return Err(invalid_argument("onReplies", "must be registered before requestBatch"));
        };
        let timeout = timeout_ms.map(|ms| Duration::from_millis(u64::from(ms)));
        let requests: Vec<BatchRequest<'_>> = envelopes
            .into_iter()
            .enumerate()
            .map(|(i, envelope)| BatchRequest { id: ids[i], subject: subject_index[i], envelope })
            .collect();
        // Planned (and framed) before anything is sent: a bad subject index sends nothing.
        for job in self.engine.plan_requests(&subjects, &requests).map_err(to_js)? {
            let (engine, sender) = (self.engine.clone(), sender.clone());
            napi::bindgen_prelude::spawn(async move {
                job.run(&engine, timeout, |finished| deliver(&sender, finished)).await;
            });
        }
        Ok(())
    }
}
