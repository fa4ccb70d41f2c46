//! Connection status changes the engine reports to the host as they happen. Invariant: each
//! event has one stable name, which is what JS sees as `status.kind`.

use std::sync::Arc;

/// Connection status changes, reported to the host (JS) as they happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connected,
    Disconnected,
    Reconnecting { attempt: usize },
    Reconnected,
    LameDuck,
    SlowConsumer,
    Draining,
    Closed,
    Error(String),
}

impl ConnectionEvent {
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

pub type EventSink = Arc<dyn Fn(ConnectionEvent) + Send + Sync>;
