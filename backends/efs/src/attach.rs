//! `attach` (and `detach`, which has nothing to undo): make sure the
//! volume's file system has a mount target in this host's zone, and tell
//! the host which NFS export to mount.
//!
//! The steps, each a no-op when already done, so a retried Mount picks up
//! where the last one stopped: (1) wait out a volume still being created;
//! (2) a One Zone file system in another zone is a `conflict`; (3) the
//! mount target in this zone: `available` → use it; `creating` → wait;
//! `deleting` → wait until it is gone, then create; none → create it (in
//! `EFS_SUBNETID` or this host's subnet, with `EFS_SECURITYGROUPS` or this
//! host's groups); a `conflict` from the create (another host made it a
//! moment ago) → describe again and use theirs. Every wait has a policy
//! (`EFS_STATUS*`), and the rounds are bounded.

use ballast_sdk::efs::{self, FileSystem, InstanceNetwork, LifeCycleState, MountTarget, WaitFor};
use ballast_sdk::{AttachOptions, Error, MountSource, Result, VolumeName, instance, log};

use crate::lookup;
use crate::settings::Config;
use crate::volume::EfsVolume;

/// Describe–decide–act rounds before giving up on a zone whose mount
/// target keeps changing under us.
const MAX_ROUNDS: usize = 4;

/// Attach volume `name` here; see the module docs for the steps.
pub fn attach(config: &Config, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
    let zone = my_zone()?;
    let volume = lookup::lookup(config, name)?
        .survivor
        .ok_or_else(|| not_found(config, name))?;
    let volume = ready(config, name, volume)?;
    check_zone(name, &volume.file_system, &zone)?;
    let target = mount_target(config, &volume.file_system, &zone)?;
    Ok(source(&volume, &target, options.read_only))
}

/// `not-found` for volume `name`.
pub fn not_found(config: &Config, name: &VolumeName) -> Error {
    Error::not_found(format!(
        "no EFS volume named {name} in cluster {}",
        config.cluster.tag
    ))
}

/// This host's availability zone, which picks the mount target.
pub fn my_zone() -> Result<String> {
    instance::identity()?.zone.ok_or_else(|| {
        Error::invalid_argument(
            "this host's availability zone is unknown (its identity has no zone): EFS is \
             mounted through the mount target in the host's zone; give the host's static \
             identity a zone",
        )
    })
}

/// Wait out a file system or access point still being created (a create on
/// another host a moment ago); one in `error` cannot be mounted.
fn ready(config: &Config, name: &VolumeName, volume: EfsVolume) -> Result<EfsVolume> {
    let policy = config.policy();
    let fs = volume.file_system;
    let unusable = |what: &str, id: &str, state: LifeCycleState| {
        Error::internal(format!(
            "{what} {id} of volume {name} is in state {} in EFS; it cannot be mounted",
            state.as_str()
        ))
    };
    let file_system = match fs.life_cycle_state {
        LifeCycleState::Available | LifeCycleState::Updating => fs,
        LifeCycleState::Creating => {
            efs::wait_file_system(&fs.file_system_id, WaitFor::Available, policy)?
        }
        state => return Err(unusable("file system", &fs.file_system_id, state)),
    };
    let access_point = match volume.access_point {
        Some(point) if point.life_cycle_state == LifeCycleState::Creating => Some(
            efs::wait_access_point(&point.access_point_id, WaitFor::Available, policy)?,
        ),
        Some(point) if point.life_cycle_state == LifeCycleState::Error => {
            return Err(unusable(
                "access point",
                &point.access_point_id,
                point.life_cycle_state,
            ));
        }
        other => other,
    };
    Ok(EfsVolume {
        file_system,
        access_point,
    })
}

/// A One Zone file system is only reachable from its zone.
pub fn check_zone(name: &VolumeName, fs: &FileSystem, zone: &str) -> Result<()> {
    match &fs.availability_zone {
        Some(home) if home != zone => Err(Error::conflict(format!(
            "volume {name} is on One Zone file system {} in {home}; this host is in {zone}: \
             run the container on a host in {home}",
            fs.file_system_id
        ))),
        _ => Ok(()),
    }
}

/// What to do about the mount target in one zone, from what EFS describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Mount through it.
    Use(MountTarget),
    /// Wait until it is `available`, then mount through it.
    WaitAvailable(String),
    /// Wait until it is gone, then describe again (and create one).
    WaitGone(String),
    /// There is none: create one.
    Create,
    /// It is in state `error`: EFS cannot serve the zone until someone
    /// deletes it.
    Broken(String),
}

/// The step for `zone` among a file system's mount targets. A zone has at
/// most one; should EFS briefly show a going one beside a new one, the most
/// usable counts.
pub fn next_step(targets: &[MountTarget], zone: &str) -> Step {
    let rank = |t: &&MountTarget| match t.life_cycle_state {
        LifeCycleState::Available | LifeCycleState::Updating => 0,
        LifeCycleState::Creating => 1,
        LifeCycleState::Error => 2,
        LifeCycleState::Deleting => 3,
        LifeCycleState::Deleted => 4,
    };
    let best = targets
        .iter()
        .filter(|t| t.availability_zone == zone && t.life_cycle_state != LifeCycleState::Deleted)
        .min_by_key(rank);
    let Some(target) = best else {
        return Step::Create;
    };
    let id = target.mount_target_id.clone();
    match target.life_cycle_state {
        LifeCycleState::Available | LifeCycleState::Updating => Step::Use(target.clone()),
        LifeCycleState::Creating => Step::WaitAvailable(id),
        LifeCycleState::Error => Step::Broken(id),
        LifeCycleState::Deleting | LifeCycleState::Deleted => Step::WaitGone(id),
    }
}

/// The available mount target of `fs` in `zone`, created when there is
/// none. See the module docs.
pub fn mount_target(config: &Config, fs: &FileSystem, zone: &str) -> Result<MountTarget> {
    let policy = config.mount_target_policy();
    let fs_id = fs.file_system_id.as_str();
    let available = |id: &str| {
        efs::wait_mount_target(id, WaitFor::Available, policy).map_err(|err| match err {
            // Just made: not described yet is eventual consistency.
            Error::NotFound(message) => Error::unavailable(format!(
                "mount target {id} of {fs_id} is not described yet ({message}); retry"
            )),
            other => other,
        })
    };
    // A create refused with `conflict`: if describing again shows no mount
    // target either, that refusal is the answer.
    let mut refused: Option<Error> = None;
    for _ in 0..MAX_ROUNDS {
        let targets = efs::describe_mount_targets(fs_id)?;
        match next_step(&targets, zone) {
            Step::Use(target) => return Ok(target),
            Step::WaitAvailable(id) => return available(&id),
            Step::Broken(id) => {
                return Err(Error::internal(format!(
                    "mount target {id} of {fs_id} in {zone} is in state error; delete it \
                     (aws efs delete-mount-target --mount-target-id {id}) and mount again"
                )));
            }
            Step::WaitGone(id) => {
                refused = None;
                log::info(
                    "waiting for the mount target being deleted in this zone",
                    &[("file_system_id", fs_id), ("mount_target_id", &id)],
                );
                efs::wait_mount_target(&id, WaitFor::Deleted, policy)?;
            }
            Step::Create => {
                if let Some(err) = refused.take() {
                    return Err(err);
                }
                let (subnet, groups) = placement(config)?;
                match efs::create_mount_target(fs_id, &subnet, &groups) {
                    Ok(target) => {
                        log::info(
                            "created mount target",
                            &[
                                ("file_system_id", fs_id),
                                ("mount_target_id", &target.mount_target_id),
                                ("zone", &target.availability_zone),
                                ("subnet", &subnet),
                            ],
                        );
                        return available(&target.mount_target_id);
                    }
                    Err(err @ Error::Conflict(_)) => {
                        log::debug(
                            "creating the mount target was refused; describing again",
                            &[("file_system_id", fs_id), ("error", err.message())],
                        );
                        refused = Some(err);
                    }
                    Err(err) => return Err(err),
                }
            }
        }
    }
    Err(Error::unavailable(format!(
        "the mount target of {fs_id} in {zone} kept changing; retry"
    )))
}

/// Where a new mount target goes: the settings' subnet and groups, else
/// this host's (asked for only when a setting is missing).
fn placement(config: &Config) -> Result<(String, Vec<String>)> {
    let needs_network = config.subnet_id.is_none() || config.security_groups.is_none();
    let network = if needs_network {
        match efs::get_instance_network() {
            Ok(network) => Some(network),
            // A static identity: with a subnet set, the VPC's default group.
            Err(Error::NotFound(_)) if config.subnet_id.is_some() => None,
            Err(Error::NotFound(message)) => {
                return Err(Error::invalid_argument(format!(
                    "this host's subnet is unknown ({message}); set EFS_SUBNETID (and \
                     EFS_SECURITYGROUPS) so mount targets can be created"
                )));
            }
            Err(err) => return Err(err),
        }
    } else {
        None
    };
    choose_placement(config, network.as_ref())
        .ok_or_else(|| Error::internal("no subnet for the mount target"))
}

/// Subnet and security groups from the settings, else from `network`; no
/// groups at all means the VPC's default group. `None` without a subnet.
pub fn choose_placement(
    config: &Config,
    network: Option<&InstanceNetwork>,
) -> Option<(String, Vec<String>)> {
    let subnet = config
        .subnet_id
        .clone()
        .or_else(|| network.map(|n| n.subnet_id.clone()))?;
    let groups = config
        .security_groups
        .clone()
        .or_else(|| network.map(|n| n.security_groups.clone()))
        .unwrap_or_default();
    Some((subnet, groups))
}

/// The NFS export of `volume` through `target`: efs-utils' options, and
/// for an access point the owner and mode its directory gets when the host
/// creates it (EFS would on the first mount through the access point).
pub fn source(volume: &EfsVolume, target: &MountTarget, read_only: bool) -> MountSource {
    let mut extra = Vec::new();
    if let Some(info) = volume
        .access_point
        .as_ref()
        .and_then(|point| point.root_directory.creation_info.as_ref())
    {
        extra.push(efs::mkdir_option(
            info.owner_uid,
            info.owner_gid,
            &info.permissions,
        ));
    }
    if read_only {
        extra.push("ro".to_owned());
    }
    efs::nfs_source(&target.ip_address, volume.export_path(), &extra)
}

/// The zones the file system has mount targets in (not being deleted),
/// sorted; for display, so a failure is logged and shows nothing.
pub fn mount_zones(fs: &FileSystem) -> Option<Vec<String>> {
    match efs::describe_mount_targets(&fs.file_system_id) {
        Ok(targets) => {
            let mut zones: Vec<String> = targets
                .into_iter()
                .filter(|t| !t.life_cycle_state.is_gone())
                .map(|t| t.availability_zone)
                .collect();
            zones.sort();
            zones.dedup();
            Some(zones)
        }
        Err(err) => {
            log::warn(
                "could not describe the mount targets",
                &[
                    ("file_system_id", &fs.file_system_id),
                    ("error", err.message()),
                ],
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use ballast_sdk::efs::CreationInfo;

    use super::*;
    use crate::settings::tests::config;
    use crate::volume::tests::{FS, own, point};

    use LifeCycleState::{Available, Creating, Deleted, Deleting, Updating};

    fn target(id: &str, zone: &str, state: LifeCycleState) -> MountTarget {
        MountTarget::sample(id, FS, zone, state)
    }

    #[test]
    fn the_zones_mount_target_decides_the_step() {
        let zone = "us-east-1a";
        let other = target("fsmt-b", "us-east-1b", Available);
        assert_eq!(next_step(&[], zone), Step::Create);
        assert_eq!(next_step(std::slice::from_ref(&other), zone), Step::Create);
        for (state, step) in [
            (Available, Step::Use(target("fsmt-a", zone, Available))),
            (Updating, Step::Use(target("fsmt-a", zone, Updating))),
            (Creating, Step::WaitAvailable("fsmt-a".into())),
            (Deleting, Step::WaitGone("fsmt-a".into())),
            (LifeCycleState::Error, Step::Broken("fsmt-a".into())),
            (Deleted, Step::Create),
        ] {
            let targets = [other.clone(), target("fsmt-a", zone, state)];
            assert_eq!(next_step(&targets, zone), step, "{state:?}");
        }
        // A new one beside one being deleted: the new one counts.
        let both = [
            target("fsmt-old", zone, Deleting),
            target("fsmt-new", zone, Creating),
        ];
        assert_eq!(
            next_step(&both, zone),
            Step::WaitAvailable("fsmt-new".into())
        );
    }

    #[test]
    fn mount_targets_go_where_the_settings_say_else_where_this_host_is() {
        let network = InstanceNetwork {
            subnet_id: "subnet-0000000a".into(),
            vpc_id: Some("vpc-1".into()),
            security_groups: vec!["sg-0000000a".into()],
        };
        let plain = config(&[]).unwrap();
        assert_eq!(
            choose_placement(&plain, Some(&network)),
            Some(("subnet-0000000a".into(), vec!["sg-0000000a".into()]))
        );
        assert_eq!(choose_placement(&plain, None), None);
        let set = config(&[
            ("EFS_SUBNETID", "subnet-0000000b"),
            ("EFS_SECURITYGROUPS", "sg-0000000b sg-0000000c"),
        ])
        .unwrap();
        assert_eq!(
            choose_placement(&set, Some(&network)),
            Some((
                "subnet-0000000b".into(),
                vec!["sg-0000000b".into(), "sg-0000000c".into()]
            ))
        );
        let subnet_only = config(&[("EFS_SUBNETID", "subnet-0000000b")]).unwrap();
        assert_eq!(
            choose_placement(&subnet_only, Some(&network)),
            Some(("subnet-0000000b".into(), vec!["sg-0000000a".into()]))
        );
        // A static identity: the VPC's default group.
        assert_eq!(
            choose_placement(&subnet_only, None),
            Some(("subnet-0000000b".into(), vec![]))
        );
        let groups_only = config(&[("EFS_SECURITYGROUPS", "sg-0000000b")]).unwrap();
        assert_eq!(
            choose_placement(&groups_only, Some(&network)),
            Some(("subnet-0000000a".into(), vec!["sg-0000000b".into()]))
        );
    }

    #[test]
    fn a_one_zone_file_system_is_mounted_only_in_its_zone() {
        let name = VolumeName::new("pgdata").unwrap();
        let mut v = own(FS, "pgdata", 0, Available);
        check_zone(&name, &v.file_system, "us-east-1b").unwrap();
        v.file_system.availability_zone = Some("us-east-1a".into());
        check_zone(&name, &v.file_system, "us-east-1a").unwrap();
        let err = check_zone(&name, &v.file_system, "us-east-1b").unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert!(
            err.message()
                .contains("in us-east-1a; this host is in us-east-1b"),
            "{err}"
        );
    }

    #[test]
    fn the_nfs_source_is_the_mount_targets_address_and_the_volumes_directory() {
        let mt = MountTarget {
            ip_address: "10.0.1.100".into(),
            ..target("fsmt-a", "us-east-1a", Available)
        };
        let MountSource::Nfs(whole) = source(&own(FS, "pgdata", 0, Available), &mt, false) else {
            panic!("not nfs");
        };
        assert_eq!(
            (whole.server.as_str(), whole.export_path.as_str()),
            ("10.0.1.100", "/")
        );
        assert_eq!(whole.options, efs::MOUNT_OPTIONS);

        let mut v = point("fsap-1", "pgdata", Some(1), Available);
        v.access_point
            .as_mut()
            .unwrap()
            .root_directory
            .creation_info = Some(CreationInfo {
            owner_uid: 1000,
            owner_gid: 50,
            permissions: "0750".into(),
        });
        let MountSource::Nfs(dir) = source(&v, &mt, true) else {
            panic!("not nfs");
        };
        assert_eq!(dir.export_path, "/ballast/pgdata");
        let extra = &dir.options[efs::MOUNT_OPTIONS.len()..];
        assert_eq!(extra, ["ballast-mkdir=1000:50:0750", "ro"]);
        // Without creation info (an access point made by hand) nothing is made.
        let bare = point("fsap-2", "pgdata", Some(1), Available);
        let MountSource::Nfs(bare) = source(&bare, &mt, false) else {
            panic!("not nfs");
        };
        assert!(!bare.options.iter().any(|o| o.starts_with("ballast-mkdir")));
    }
}
