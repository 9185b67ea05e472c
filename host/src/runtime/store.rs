//! The per-call store. `new_store` is the only place a `Store` is made, and
//! it always installs the memory cap, the CPU budget and WASI with nothing
//! granted (no files, no environment, no network; stdout and stderr go to a
//! small in-memory tail so a panic message can be reported).

use std::sync::{Arc, Mutex};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::capabilities::CapabilityContext;

/// What one guest instance runs with.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryCap,
    /// Epoch ticks of CPU the guest may still use in this call.
    cpu_ticks_left: u64,
    pub(crate) output: OutputTail,
    pub(crate) caps: Arc<CapabilityContext>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The guest used its whole CPU budget (an endless loop, or just too slow).
#[derive(Debug, thiserror::Error)]
#[error("used its CPU budget of {ms} ms")]
pub struct CpuBudgetExceeded {
    pub ms: u64,
}

/// The guest tried to grow its memory past the cap.
#[derive(Debug, thiserror::Error)]
#[error("tried to grow its memory to {asked_mib} MiB, over the limit of {limit_mib} MiB")]
pub struct MemoryLimitExceeded {
    pub asked_mib: u64,
    pub limit_mib: u64,
}

/// Memory cap as a limiter: growth past it traps with `MemoryLimitExceeded`
/// (a trap, not a failed `memory.grow`, so the cause is reported as such).
struct MemoryCap {
    limit_bytes: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            let mib = |b: usize| (b / (1024 * 1024)) as u64;
            return Err(MemoryLimitExceeded {
                asked_mib: mib(desired),
                limit_mib: mib(self.limit_bytes),
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Limits for one store.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    pub memory_bytes: usize,
    pub cpu_ms: u64,
}

/// A fresh store for one call, with every bound installed.
pub fn new_store(
    engine: &Engine,
    caps: Arc<CapabilityContext>,
    limits: StoreLimits,
) -> Store<HostState> {
    let output = OutputTail::default();
    let wasi = WasiCtxBuilder::new()
        .stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let state = HostState {
        wasi,
        table: ResourceTable::new(),
        limiter: MemoryCap {
            limit_bytes: limits.memory_bytes,
        },
        cpu_ticks_left: super::engine::ticks_for(limits.cpu_ms),
        output,
        caps,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    // Every tick the guest runs, charge it one tick and yield to tokio, so a
    // busy guest never starves the other requests or the call's timeout.
    store.set_epoch_deadline(1);
    let cpu_ms = limits.cpu_ms;
    store.epoch_deadline_callback(move |mut ctx| {
        let state = ctx.data_mut();
        if state.cpu_ticks_left == 0 {
            return Err(CpuBudgetExceeded { ms: cpu_ms }.into());
        }
        state.cpu_ticks_left -= 1;
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

/// The last few KiB a guest wrote to stdout/stderr. Writes never fail or
/// block: older output is dropped.
#[derive(Clone, Default)]
pub struct OutputTail(Arc<Mutex<Vec<u8>>>);

const OUTPUT_TAIL_BYTES: usize = 4096;

impl OutputTail {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .trim()
            .to_string()
    }

    fn push(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap();
        buf.extend_from_slice(bytes);
        if buf.len() > OUTPUT_TAIL_BYTES {
            let cut = buf.len() - OUTPUT_TAIL_BYTES;
            buf.drain(..cut);
        }
    }
}

impl IsTerminal for OutputTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputTail {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for OutputTail {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_tail_keeps_the_last_bytes() {
        let tail = OutputTail::default();
        tail.push(&vec![b'a'; OUTPUT_TAIL_BYTES]);
        tail.push(b"panicked at the end");
        let text = tail.text();
        assert_eq!(text.len(), OUTPUT_TAIL_BYTES);
        assert!(text.ends_with("panicked at the end"));
    }
}
