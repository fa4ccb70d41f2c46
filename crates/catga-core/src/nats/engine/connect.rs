//! Connecting: async-nats options from [`NatsOptions`], reconnect backoff, and status events.
//! Invariant: the host hears `reconnecting` only after a disconnect, never before the first
//! connect, and `reconnected` (not `connected`) once a lost connection is back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{ConnectErrorKind, Event, ServerAddr};
use tokio::sync::Semaphore;

use super::NatsEngine;
use crate::error::{CatgaError, ErrorCode, Result};
use crate::nats::events::{ConnectionEvent, EventSink};
use crate::nats::options::NatsOptions;
use crate::nats::permissions::Permissions;
use crate::nats::request_frames::ReplyRouter;
use crate::nats::stats::Stats;

fn parse_servers(servers: &[String]) -> Result<Vec<ServerAddr>> {
    servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<ServerAddr>().map_err(|e| {
                CatgaError::invalid_argument(&format!("servers[{i}]"), format!("{s:?}: {e}")).with_cause(e)
            })
        })
        .collect()
}

/// Exponential backoff with full jitter, capped; attempt counts from 1.
fn reconnect_delay(attempt: usize, initial: Duration, max: Duration) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(max);
    // Jitter from the clock's sub-second nanos: good enough to de-synchronise clients, no RNG dep.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let fraction = 0.5 + f64::from(nanos % 1000) / 2000.0;
    capped.mul_f64(fraction)
}

impl NatsEngine {
    /// Connects, failing with `CATGA_NOT_CONNECTED` when no server answers within the timeout.
    pub async fn connect(options: NatsOptions, on_event: EventSink) -> Result<Self> {
        options.validate()?;
        let servers = parse_servers(&options.servers)?;
        let stats = Arc::new(Stats::default());
        let mut connect = async_nats::ConnectOptions::new()
            .max_reconnects(options.max_reconnects)
            .ping_interval(options.ping_interval)
            .connection_timeout(options.connect_timeout)
            .request_timeout(Some(options.request_timeout))
            .subscription_capacity(options.subscription_capacity);
        if let Some(name) = &options.name {
            connect = connect.name(name);
        }
        if let (Some(user), Some(password)) = (&options.user, &options.password) {
            connect = connect.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &options.token {
            connect = connect.token(token.clone());
        }
        if let Some(seed) = &options.nkey_seed {
            // A malformed seed would only fail later as a refused signature (CATGA_PERMISSION_DENIED);
            // the error names the option and never the seed, which is a secret.
            nkeys::KeyPair::from_seed(seed).map_err(|e| {
                CatgaError::invalid_argument("nkeySeed", format!("is not a valid nkey seed ({})", e.kind()))
            })?;
            connect = connect.nkey(seed.clone());
        }
        if let Some(path) = &options.credentials_file {
            connect = connect.credentials_file(path).await.map_err(|e| {
                CatgaError::invalid_argument("credentialsFile", format!("{}: {e}", path.display())).with_cause(e)
            })?;
        }
        if options.tls.required {
            connect = connect.require_tls(true);
        }
        if let Some(ca) = &options.tls.ca_file {
            connect = connect.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&options.tls.cert_file, &options.tls.key_file) {
            connect = connect.add_client_certificate(cert.clone(), key.clone());
        }
        if options.no_echo {
            connect = connect.no_echo();
        }

        let was_disconnected = Arc::new(AtomicBool::new(false));
        let (initial, max) = (options.reconnect_delay_initial, options.reconnect_delay_max);
        let (sink, disconnected) = (on_event.clone(), was_disconnected.clone());
        connect = connect.reconnect_delay_callback(move |attempt| {
            // async-nats also asks for a delay before the very first connect; that is not a reconnect.
            if !disconnected.load(Ordering::SeqCst) {
                return Duration::ZERO;
            }
            sink(ConnectionEvent::Reconnecting { attempt });
            reconnect_delay(attempt, initial, max)
        });

        let event_stats = stats.clone();
        // Permission violations, for the calls that wait on them (requests, first publishes,
        // flush): the server reports them asynchronously, naming the subject, and nothing else
        // would wake those calls.
        let permissions = Arc::new(Permissions::default());
        let recorded = permissions.clone();
        connect = connect.event_callback(move |event| {
            let on_event = on_event.clone();
            let was_disconnected = was_disconnected.clone();
            let stats = event_stats.clone();
            let recorded = recorded.clone();
            async move {
                let mapped = match event {
                    Event::Connected if was_disconnected.swap(false, Ordering::SeqCst) => {
                        Stats::add(&stats.reconnects, 1);
                        recorded.reset_publishes();
                        ConnectionEvent::Reconnected
                    }
                    Event::Connected => ConnectionEvent::Connected,
                    Event::Disconnected => {
                        was_disconnected.store(true, Ordering::SeqCst);
                        ConnectionEvent::Disconnected
                    }
                    Event::LameDuckMode => ConnectionEvent::LameDuck,
                    Event::Draining => ConnectionEvent::Draining,
                    Event::Closed => ConnectionEvent::Closed,
                    Event::SlowConsumer(_) => {
                        // async-nats reports each message its channel had no room for this way.
                        Stats::add(&stats.frames_dropped, 1);
                        ConnectionEvent::SlowConsumer
                    }
                    Event::ServerError(e) => {
                        let text = e.to_string();
                        // Recorded before the status event goes out: a call that fails because of
                        // it is woken no later than a `status` listener hears of it.
                        recorded.record(&text);
                        ConnectionEvent::Error(text)
                    }
                    Event::ClientError(e) => ConnectionEvent::Error(e.to_string()),
                };
                on_event(mapped);
            }
        });

        let client = connect.connect(servers).await.map_err(|e| {
            // Wrong credentials are not an outage: retrying cannot fix them.
            let code = match e.kind() {
                ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
                    ErrorCode::PermissionDenied
                }
                _ => ErrorCode::NotConnected,
            };
            CatgaError::new(code, format!("cannot connect to {}: {e}", options.servers.join(", "))).with_cause(e)
        })?;
        Ok(Self {
            jetstream: async_nats::jetstream::new(client.clone()),
            router: ReplyRouter::new(&client),
            client,
            requests: Arc::new(Semaphore::new(options.max_in_flight_requests)),
            pending_bytes: Arc::new(Semaphore::new(options.max_pending_bytes)),
            options,
            closing: AtomicBool::new(false),
            stats,
            permissions,
        })
    }
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
