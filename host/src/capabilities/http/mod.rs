//! `http`: outgoing HTTP requests of a backend, to the hosts its config
//! allows, with credentials the host adds by name (see wit/http.wit).
//!
//! SCAFFOLD: being written; every request answers `internal` until then.

use std::sync::Arc;

use super::{Capability, granted};
use crate::config::BackendConfig;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::http::{Host, Request, Response};
use crate::runtime::store::HostState;

/// The `http` capability of one backend.
pub struct Http {
    backend: String,
}

impl Http {
    pub fn from_config(backend: &str, _config: &BackendConfig) -> anyhow::Result<Http> {
        Ok(Http {
            backend: backend.into(),
        })
    }

    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub async fn send(&self, request: Request) -> Result<Response, BackendError> {
        Err(BackendError::Internal(format!(
            "http {} {}: not written yet",
            request.method, request.url
        )))
    }
}

impl HostState {
    fn http(&self) -> wasmtime::Result<Arc<Http>> {
        granted(&self.caps.http, Capability::Http)
    }
}

impl Host for HostState {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, BackendError>> {
        Ok(self.http()?.send(request).await)
    }
}
