//! The NATS connection options object and its conversion into [`NatsOptions`]. Unset fields take
//! the core defaults; `NatsOptions::validate` is the last check.

use std::path::PathBuf;
use std::time::Duration;

use catga_core::nats::{BackpressurePolicy, NatsOptions, TlsOptions};
use napi_derive::napi;

use crate::error::{invalid_argument, to_js, Result};
use crate::options::{frame_options, FrameOptionsInput};

/// What happens when a bound is reached or the connection is down.
#[napi(string_enum, js_name = "BackpressurePolicy")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackpressurePolicyJs {
    /// Wait for room (or for the reconnect), bounded by the request timeout.
    #[napi(value = "wait")]
    Wait,
    /// Fail at once with a coded error.
    #[napi(value = "reject")]
    Reject,
}

impl From<BackpressurePolicyJs> for BackpressurePolicy {
    fn from(policy: BackpressurePolicyJs) -> Self {
        match policy {
            BackpressurePolicyJs::Wait => BackpressurePolicy::Wait,
            BackpressurePolicyJs::Reject => BackpressurePolicy::Reject,
        }
    }
}

/// TLS settings of a connection.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct TlsInput {
    pub required: Option<bool>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// Connection and engine options (validated field by field in TS before they get here).
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct NatsOptionsInput {
    pub servers: Vec<String>,
    pub name: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    pub nkey_seed: Option<String>,
    pub credentials_file: Option<String>,
    pub tls: Option<TlsInput>,
    /// -1 (default) retries forever.
    pub max_reconnects: Option<i32>,
    pub reconnect_delay_ms: Option<u32>,
    pub reconnect_delay_max_ms: Option<u32>,
    pub ping_interval_ms: Option<u32>,
    pub connect_timeout_ms: Option<u32>,
    pub request_timeout_ms: Option<u32>,
    pub durable_publish_timeout_ms: Option<u32>,
    pub max_in_flight_requests: Option<u32>,
    pub max_pending_bytes: Option<u32>,
    /// When a bound is reached: wait for room (default) or fail with `CATGA_BACKPRESSURE`.
    pub backpressure: Option<BackpressurePolicyJs>,
    /// While disconnected: wait for reconnect (default) or fail with `CATGA_NOT_CONNECTED`.
    pub when_disconnected: Option<BackpressurePolicyJs>,
    pub no_echo: Option<bool>,
    pub frame: Option<FrameOptionsInput>,
    pub inbound_batch_max: Option<u32>,
    pub subscription_capacity: Option<u32>,
    /// Bytes held per subscription while JS handles a batch (64 MiB); past it messages are dropped and counted.
    pub subscription_buffer_bytes: Option<u32>,
    /// Most requests per framed group (64); 1 sends each request as its own NATS message.
    pub requests_per_frame: Option<u32>,
    /// Event frames are cut at about this many bytes (16 KiB).
    pub event_frame_bytes: Option<u32>,
}

fn millis(value: Option<u32>, default: Duration) -> Duration {
    value.map_or(default, |ms| Duration::from_millis(u64::from(ms)))
}

pub fn to_options(input: NatsOptionsInput) -> Result<NatsOptions> {
    let d = NatsOptions::default();
    let tls = input.tls.unwrap_or_default();
    let options = NatsOptions {
        servers: input.servers,
        name: input.name,
        user: input.user,
        password: input.pass,
        token: input.token,
        nkey_seed: input.nkey_seed,
        credentials_file: input.credentials_file.map(PathBuf::from),
        tls: TlsOptions {
            required: tls.required.unwrap_or(false),
            ca_file: tls.ca_file.map(PathBuf::from),
            cert_file: tls.cert_file.map(PathBuf::from),
            key_file: tls.key_file.map(PathBuf::from),
        },
        max_reconnects: match input.max_reconnects {
            None | Some(-1) => None,
            // async-nats reads Some(0) as "no limit", so 0 is refused rather than silently unlimited.
            Some(n) if n >= 1 => Some(n as usize),
            Some(n) => return Err(invalid_argument("maxReconnects", format!("must be -1 (forever) or >= 1, got {n}"))),
        },
        reconnect_delay_initial: millis(input.reconnect_delay_ms, d.reconnect_delay_initial),
        reconnect_delay_max: millis(input.reconnect_delay_max_ms, d.reconnect_delay_max),
        ping_interval: millis(input.ping_interval_ms, d.ping_interval),
        connect_timeout: millis(input.connect_timeout_ms, d.connect_timeout),
        request_timeout: millis(input.request_timeout_ms, d.request_timeout),
        durable_publish_timeout: millis(input.durable_publish_timeout_ms, d.durable_publish_timeout),
        max_in_flight_requests: input.max_in_flight_requests.map_or(d.max_in_flight_requests, |n| n as usize),
        max_pending_bytes: input.max_pending_bytes.map_or(d.max_pending_bytes, |n| n as usize),
        backpressure: input.backpressure.map_or(d.backpressure, BackpressurePolicy::from),
        when_disconnected: input.when_disconnected.map_or(d.when_disconnected, BackpressurePolicy::from),
        no_echo: input.no_echo.unwrap_or(d.no_echo),
        frame: frame_options(input.frame.as_ref())?,
        inbound_batch_max: input.inbound_batch_max.map_or(d.inbound_batch_max, |n| n as usize),
        subscription_capacity: input.subscription_capacity.map_or(d.subscription_capacity, |n| n as usize),
        subscription_buffer_bytes: input.subscription_buffer_bytes.map_or(d.subscription_buffer_bytes, |n| n as usize),
        requests_per_frame: input.requests_per_frame.map_or(d.requests_per_frame, |n| n as usize),
        event_frame_bytes: input.event_frame_bytes.map_or(d.event_frame_bytes, |n| n as usize),
    };
    options.validate().map_err(to_js)?;
    Ok(options)
}

impl From<BackpressurePolicy> for BackpressurePolicyJs {
    fn from(policy: BackpressurePolicy) -> Self {
        match policy {
            BackpressurePolicy::Wait => BackpressurePolicyJs::Wait,
            BackpressurePolicy::Reject => BackpressurePolicyJs::Reject,
        }
    }
}

/// Whole milliseconds of a default duration, as JS passes them.
fn ms(duration: Duration) -> Option<u32> {
    Some(u32::try_from(duration.as_millis()).unwrap_or(u32::MAX))
}

/// What the engine applies to each field a caller leaves out, under the JS option names. The TS
/// table `NATS_DEFAULTS` (ts/nats/options.ts) is checked against it by a test, so the defaults
/// the docs state are the ones the engine uses.
#[napi]
pub fn nats_defaults() -> NatsOptionsInput {
    let d = NatsOptions::default();
    let size = |n: usize| Some(u32::try_from(n).unwrap_or(u32::MAX));
    let frame = catga_core::FrameOptions::default();
    NatsOptionsInput {
        max_reconnects: Some(-1),
        reconnect_delay_ms: ms(d.reconnect_delay_initial),
        reconnect_delay_max_ms: ms(d.reconnect_delay_max),
        ping_interval_ms: ms(d.ping_interval),
        connect_timeout_ms: ms(d.connect_timeout),
        request_timeout_ms: ms(d.request_timeout),
        durable_publish_timeout_ms: ms(d.durable_publish_timeout),
        max_in_flight_requests: size(d.max_in_flight_requests),
        max_pending_bytes: size(d.max_pending_bytes),
        backpressure: Some(d.backpressure.into()),
        when_disconnected: Some(d.when_disconnected.into()),
        no_echo: Some(d.no_echo),
        frame: Some(FrameOptionsInput {
            compression_threshold: Some(frame.compression_threshold as f64),
            compression_level: Some(frame.compression_level),
            limits: Some(crate::options::LimitsInput {
                max_envelope_bytes: Some(frame.limits.max_envelope_bytes as f64),
                max_batch_count: Some(frame.limits.max_batch_count as f64),
                max_batch_bytes: Some(frame.limits.max_batch_bytes as f64),
                max_decompressed_bytes: Some(frame.limits.max_decompressed_bytes as f64),
            }),
        }),
        inbound_batch_max: size(d.inbound_batch_max),
        subscription_capacity: size(d.subscription_capacity),
        subscription_buffer_bytes: size(d.subscription_buffer_bytes),
        requests_per_frame: size(d.requests_per_frame),
        event_frame_bytes: size(d.event_frame_bytes),
        ..NatsOptionsInput::default()
    }
}
