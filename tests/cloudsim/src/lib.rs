//! cloudsim: a strict simulated cloud for Ballast's tests and demos — the
//! EC2, EFS and Compute Engine API subsets Ballast's backends call, instance
//! metadata per simulated instance, and a hypervisor that makes attached
//! volumes appear as loop devices with the by-id links the real platform
//! would create. Strict where moto is lax: single attach, zones,
//! idempotency tokens, attaching→attached delays, DryRun policy.
//!
//! One API listener serves every cloud API and the admin API; each
//! instance gets its own metadata listener, so two host processes on one
//! machine can be two instances.

pub mod admin;
pub mod auth;
pub mod config;
pub mod delays;
pub mod ec2;
pub mod efs;
pub mod faults;
pub mod gce;
pub mod hypervisor;
pub mod ids;
pub mod metadata;
pub mod moto;
pub mod oauth;
pub mod server;
pub mod world;

pub use config::{InstanceSpec, Provider, SimConfig};
pub use server::{Running, start};
