//! `log`: a guest's structured log lines, written by the host's logger with
//! the backend's name. Messages are capped so a guest cannot flood the log
//! with one line.

use super::{Capability, not_granted};
use crate::runtime::bindings::ballast::backend::log::{Host, Level};
use crate::runtime::store::HostState;

const MAX_MESSAGE_BYTES: usize = 4096;

impl Host for HostState {
    async fn log(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        if !self.caps.granted.contains(&Capability::Log) {
            return Err(not_granted(Capability::Log));
        }
        let backend = self.caps.backend.as_str();
        let message = truncate(&message);
        let fields = fields
            .iter()
            .map(|(k, v)| format!("{}={}", truncate(k), truncate(v)))
            .collect::<Vec<_>>()
            .join(" ");
        match level {
            Level::Trace => tracing::trace!(target: "ballast::guest", backend, fields, "{message}"),
            Level::Debug => tracing::debug!(target: "ballast::guest", backend, fields, "{message}"),
            Level::Info => tracing::info!(target: "ballast::guest", backend, fields, "{message}"),
            Level::Warn => tracing::warn!(target: "ballast::guest", backend, fields, "{message}"),
            Level::Error => tracing::error!(target: "ballast::guest", backend, fields, "{message}"),
        }
        Ok(())
    }
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
