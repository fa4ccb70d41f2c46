//! Connection status changes the engine reports to the host as they happen. Invariant: each
//! event has one stable name, which is what JS sees as `status.kind`.

use std::sync::Arc;

/// Connection status changes, reported to the host (JS) as they happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The first connection is up.
    Connected,
    /// The connection was lost; async-nats is reconnecting.
    Disconnected,
    /// A reconnect attempt is about to start after its backoff delay.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: usize,
    },
    /// A lost connection is back.
    Reconnected,
    /// The server is shutting down and asks clients to move elsewhere.
    LameDuck,
    /// A subscription fell behind and the server dropped messages for it.
    SlowConsumer,
    /// The connection is draining (closing after in-flight work).
    Draining,
    /// The connection is closed for good.
    Closed,
    /// A server or client error, with its text.
    Error(String),
}

impl ConnectionEvent {
    /// The event's stable name (`connected`, `lameDuck`, ...), as JS sees it.
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionEvent::Connected => "connected",
            ConnectionEvent::Disconnected => "disconnected",
            ConnectionEvent::Reconnecting { .. } => "reconnecting",
            ConnectionEvent::Reconnected => "reconnected",
            ConnectionEvent::LameDuck => "lameDuck",
            ConnectionEvent::SlowConsumer => "slowConsumer",
            ConnectionEvent::Draining => "draining",
            ConnectionEvent::Closed => "closed",
            ConnectionEvent::Error(_) => "error",
        }
    }
}

/// Where the engine reports connection events; called on the runtime's threads, so it must not block.
pub type EventSink = Arc<dyn Fn(ConnectionEvent) + Send + Sync>;
