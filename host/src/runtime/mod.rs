//! The one module that owns wasmtime: the engine and its epoch ticker, the
//! compiled-module cache, module checks (WIT version, capabilities), stores
//! that always carry the memory cap and the CPU budget, and the driver
//! calls. Nothing else in the host touches `wasmtime::Config` or `Store::new`.

pub mod backend;
pub mod bindings;
pub mod builtin;
pub mod cache;
pub mod engine;
pub mod inspect;
pub mod store;

pub use backend::{Backend, CallError, LoadContext, LoadError};
