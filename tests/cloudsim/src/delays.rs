//! How long state transitions take: zero in fast tests, realistic in demos
//! and benchmarks. Transitions run as background tasks after the delay.

use std::time::Duration;

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Delays {
    /// EBS volume and GCE disk: creating → available.
    pub volume_create: Duration,
    /// attaching → attached.
    pub attach: Duration,
    /// detaching → available.
    pub detach: Duration,
    /// snapshot pending → completed.
    pub snapshot: Duration,
    /// EFS file system / mount target / access point: creating → available.
    pub efs: Duration,
    /// GCE zone operation RUNNING → DONE.
    pub gce_operation: Duration,
}

impl Delays {
    pub fn zero() -> Delays {
        Delays {
            volume_create: Duration::ZERO,
            attach: Duration::ZERO,
            detach: Duration::ZERO,
            snapshot: Duration::ZERO,
            efs: Duration::ZERO,
            gce_operation: Duration::ZERO,
        }
    }

    /// Roughly what AWS and GCE take.
    pub fn realistic() -> Delays {
        Delays {
            volume_create: Duration::from_millis(1500),
            attach: Duration::from_millis(3000),
            detach: Duration::from_millis(2000),
            snapshot: Duration::from_millis(5000),
            efs: Duration::from_millis(3000),
            gce_operation: Duration::from_millis(2000),
        }
    }
}

/// Run `change` after `delay` (at once when zero, so fast tests see no
/// intermediate state after the call returns... unless they look quickly).
pub fn after(delay: Duration, change: impl FnOnce() + Send + 'static) {
    if delay.is_zero() {
        change();
    } else {
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            change();
        });
    }
}
