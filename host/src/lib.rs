//! Ballast: a Docker volume plugin host whose storage backends are sandboxed
//! WebAssembly components.

pub mod capabilities;
pub mod cli;
pub mod config;
pub mod docker;
pub mod fsutil;
pub mod host;
pub mod metrics;
pub mod names;
pub mod runtime;
pub mod storage;
pub mod volumes;
