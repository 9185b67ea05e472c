//! The single wasmtime `Engine` and the epoch ticker that gives guests a
//! CPU clock. The ticker holds only a weak handle, so it stops by itself
//! when the engine is dropped.

use std::time::Duration;

use wasmtime::{Config, Engine};

/// One epoch tick. A guest's CPU budget is counted in ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Build the engine every module and store of this process uses.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config)?;
    start_ticker(&engine);
    Ok(engine)
}

fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("ballast-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker thread");
}

/// Ticks in a CPU budget of `ms` milliseconds (at least one).
pub fn ticks_for(ms: u64) -> u64 {
    (ms / EPOCH_TICK.as_millis() as u64).max(1)
}
