//! NATS service discovery binding: start answering `$SRV.PING/INFO/STATS` for an instance.

use std::collections::HashMap;

use catga_core::nats::service::{Discovery, ServiceSpec};
use napi::bindgen_prelude::Result;
use napi_derive::napi;
use tokio::sync::Mutex;

use crate::error::{into_async, invalid_argument, to_js_async};
use crate::nats::NatsClient;

/// A running discovery responder; `stop()` ends it (idempotent).
#[napi]
pub struct NatsDiscovery {
    running: Mutex<Option<Discovery>>,
    id: String,
}

#[napi]
impl NatsClient {
    /// Answers NATS service discovery as `name` (letters, digits, `-`, `_`) at the semver
    /// `version`, reporting `description` and `metadata`.
    #[napi]
    pub async fn start_discovery(
        &self,
        name: String,
        version: String,
        description: String,
        metadata: HashMap<String, String>,
    ) -> Result<NatsDiscovery> {
        if version.is_empty() {
            return Err(into_async(invalid_argument("version", "must be a semantic version such as 1.2.3")));
        }
        let spec = ServiceSpec { name, version, description, metadata };
        let discovery = self.engine.start_discovery(spec).await.map_err(to_js_async)?;
        let id = discovery.id().to_owned();
        Ok(NatsDiscovery { running: Mutex::new(Some(discovery)), id })
    }
}

#[napi]
impl NatsDiscovery {
    /// The id the protocol reports for this instance.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// Stops answering; later calls do nothing.
    #[napi]
    pub async fn stop(&self) -> Result<()> {
        let running = self.running.lock().await.take();
        match running {
            Some(discovery) => discovery.stop().await.map_err(to_js_async),
            None => Ok(()),
        }
    }
}
