//! Fault injection and call counting, driven by the admin API: throttle a
//! share of calls, add latency, fail the next K calls of an action, leave
//! the next attachments stuck in `attaching`, make DescribeVolumes stale.
//! Every API call passes `before` first, so counters see everything.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Share of API calls (0.0–1.0) answered as throttled.
    pub throttle_share: f64,
    /// Added before every API call.
    pub latency_ms: u64,
    /// The next `count` calls of `action` fail.
    pub fail_next: Vec<FailNext>,
    /// The next N attachments stay in `attaching` until detached.
    pub stuck_attaching: u32,
    /// DescribeVolumes answers from a copy frozen now, for this long.
    pub stale_describe_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailNext {
    /// "CreateVolume", "CreateAccessPoint", "disks.insert", ...
    pub action: String,
    pub count: u32,
    /// The provider's error code, e.g. "InternalError", "ServiceUnavailable".
    #[serde(default = "internal_error")]
    pub code: String,
    /// HTTP status to answer with.
    #[serde(default = "status_500")]
    pub status: u16,
}

fn internal_error() -> String {
    "InternalError".into()
}

fn status_500() -> u16 {
    500
}

/// What `before` decided for a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    /// Answer as the provider does when throttling.
    Throttle,
    Fail {
        code: String,
        status: u16,
    },
}

#[derive(Default)]
pub struct Faults {
    state: Mutex<(FaultPlan, BTreeMap<String, u64>)>,
}

impl Faults {
    /// Replace the plan (counters are kept).
    pub fn set(&self, plan: FaultPlan) {
        self.state.lock().unwrap().0 = plan;
    }

    /// No faults, counters back to zero.
    pub fn reset(&self) {
        *self.state.lock().unwrap() = Default::default();
    }

    pub fn plan(&self) -> FaultPlan {
        self.state.lock().unwrap().0.clone()
    }

    /// Calls per "service:Action" so far.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.state.lock().unwrap().1.clone()
    }

    /// Count the call, wait the injected latency, and say whether to fail it.
    pub async fn before(&self, service: &str, action: &str) -> Option<Injected> {
        let (latency, injected) = {
            let mut state = self.state.lock().unwrap();
            *state.1.entry(format!("{service}:{action}")).or_default() += 1;
            let plan = &mut state.0;
            let injected = take_failure(plan, action).or_else(|| {
                (plan.throttle_share > 0.0 && rand::rng().random_bool(plan.throttle_share.min(1.0)))
                    .then_some(Injected::Throttle)
            });
            (Duration::from_millis(plan.latency_ms), injected)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        injected
    }

    /// True (once per planned attachment) when this attachment must stick.
    pub fn take_stuck_attaching(&self) -> bool {
        let mut state = self.state.lock().unwrap();
        if state.0.stuck_attaching > 0 {
            state.0.stuck_attaching -= 1;
            true
        } else {
            false
        }
    }
}

fn take_failure(plan: &mut FaultPlan, action: &str) -> Option<Injected> {
    let next = plan
        .fail_next
        .iter_mut()
        .find(|f| f.action == action && f.count > 0)?;
    next.count -= 1;
    Some(Injected::Fail {
        code: next.code.clone(),
        status: next.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fail_next_counts_down_and_counters_count_everything() {
        let faults = Faults::default();
        faults.set(FaultPlan {
            fail_next: vec![FailNext {
                action: "CreateVolume".into(),
                count: 2,
                code: "X".into(),
                status: 503,
            }],
            ..Default::default()
        });
        let fail = Some(Injected::Fail {
            code: "X".into(),
            status: 503,
        });
        assert_eq!(faults.before("ec2", "CreateVolume").await, fail);
        assert_eq!(faults.before("ec2", "DescribeVolumes").await, None);
        assert_eq!(faults.before("ec2", "CreateVolume").await, fail);
        assert_eq!(faults.before("ec2", "CreateVolume").await, None);
        assert_eq!(faults.counters()["ec2:CreateVolume"], 3);
    }

    #[tokio::test]
    async fn full_throttling_throttles_every_call() {
        let faults = Faults::default();
        faults.set(FaultPlan {
            throttle_share: 1.0,
            ..Default::default()
        });
        for _ in 0..10 {
            assert_eq!(
                faults.before("ec2", "DescribeVolumes").await,
                Some(Injected::Throttle)
            );
        }
    }
}
