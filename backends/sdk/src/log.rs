//! Structured log lines through the host's logger (the `log` capability).
//!
//! The host adds the backend's name and the request's span (volume, request
//! id). Fields are key/value pairs: `log::info("created", &[("size", "1 GiB")])`.
//! Never log secrets. Calling any of these makes the component import `log`.

use crate::bindings::ballast::backend::log::{Level, log};

/// Very detailed tracing.
pub fn trace(message: &str, fields: &[(&str, &str)]) {
    write(Level::Trace, message, fields);
}

/// Details useful when debugging.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    write(Level::Debug, message, fields);
}

/// A state change worth a line: one per change, not per poll.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    write(Level::Info, message, fields);
}

/// Something odd the backend worked around.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    write(Level::Warn, message, fields);
}

/// Something failed.
pub fn error(message: &str, fields: &[(&str, &str)]) {
    write(Level::Error, message, fields);
}

fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    log(level, message, &fields);
}
