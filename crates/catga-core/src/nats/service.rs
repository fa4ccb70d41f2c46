//! NATS service discovery (the "micro" protocol, ADR-32): an instance answers `$SRV.PING`,
//! `$SRV.INFO` and `$SRV.STATS` (bare, by name, and by name and id) with the JSON the protocol
//! defines, so `nats micro ls` and the nats.js service client list it. The protocol is
//! async-nats' well-kept `service` module; this file only validates and starts it.
//!
//! Invariant: the requests are plain JSON, never Catga envelopes, and they are answered by
//! async-nats' own subscriptions: the engine's subscriptions (and their malformed counts) never
//! see them.

use std::collections::HashMap;

use std::io::ErrorKind;

use async_nats::service::{Service, ServiceExt};
use async_nats::Client;

use crate::error::{CatgaError, ErrorCode, Result};

/// What the instance announces: `name` (letters, digits, `-`, `_`), a semver `version`, a
/// free-form `description` and string `metadata`.
pub struct ServiceSpec {
    /// The service name, shared by every instance of the service.
    pub name: String,
    /// A semantic version (`1.2.3`).
    pub version: String,
    /// A human-readable description.
    pub description: String,
    /// Extra facts reported by PING and INFO.
    pub metadata: HashMap<String, String>,
}

/// A started discovery responder; it answers until [`Discovery::stop`] (or until dropped with
/// its connection).
pub struct Discovery {
    service: Service,
    id: String,
}

impl Discovery {
    /// The instance id the protocol reports (async-nats makes one per start).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops answering.
    pub async fn stop(self) -> Result<()> {
        self.service.stop().await.map_err(|e| CatgaError::new(ErrorCode::Transport, format!("stop discovery: {e}")))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Starts answering service discovery for `spec` on `client`. The name is checked here and a
/// version that is not semver is reported as such (coded errors naming the field).
pub(crate) async fn start(client: &Client, spec: ServiceSpec) -> Result<Discovery> {
    if !valid_name(&spec.name) {
        return Err(CatgaError::invalid_argument("service", "must be letters, digits, - or _ (NATS micro)"));
    }
    let service = client
        .service_builder()
        .description(spec.description)
        .metadata(spec.metadata)
        .start(spec.name, spec.version)
        .await
        .map_err(|e| {
            // async-nats reports its own input checks (name, semver) as InvalidInput; the name
            // passed ours, so this one is the version.
            let invalid = e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == ErrorKind::InvalidInput);
            if invalid {
                CatgaError::invalid_argument("version", "must be a semantic version such as 1.2.3")
            } else {
                CatgaError::new(ErrorCode::Transport, format!("start discovery: {e}"))
            }
        })?;
    let id = service.info().await.id;
    Ok(Discovery { service, id })
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
