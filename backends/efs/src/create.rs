//! `create`: one access point or one file system per name, cluster-wide,
//! however many hosts ask at once (Swarm calls Create on every node that
//! runs a task).
//!
//! As for EBS, three layers keep it to one: a lookup by tags first; EFS's
//! idempotency token (ClientToken, CreationToken) derived from the cluster,
//! the name and a 10-minute window, so concurrent creators (and retries) in
//! one window get the same resource (EFS answers the one a token made,
//! whatever its parameters, so they are compared after); and, for creators
//! that straddle two windows, convergence after the fact: every host agrees
//! on the survivor (`lookup::survivor`) and a creator whose volume lost
//! deletes it — an access point always (the directory is the winner's
//! too, and nothing mounts through a loser), a file system only while it
//! has no mount target (nothing can have written to it).

use ballast_sdk::cluster::{VOLUME_TAG, unix_now, unix_now_ms};
use ballast_sdk::efs::{
    self, CreateAccessPointRequest, CreationInfo, FileSystem, LifeCycleState, PosixUser,
    RootDirectory, WaitFor,
};
use ballast_sdk::{Error, Options, Result, Volume, VolumeName, log};

use crate::lookup;
use crate::names::{self, CREATED_TAG, PURGE_TAG};
use crate::options::{ApSpec, FsOptions, Kind, Request, octal};
use crate::settings::Config;
use crate::volume::{EfsVolume, to_volume};

/// What a create makes, complete and checked.
enum Plan<'a> {
    AccessPoint(ApSpec),
    FileSystem(&'a FsOptions),
}

/// Create volume `name`, or return it when it exists and the options agree.
pub fn create(config: &Config, name: &VolumeName, options: Options) -> Result<Volume> {
    let request = Request::from_options(config, options)?;
    // Checked before anything exists: the directory must fit EFS's rules.
    let plan = match &request.kind {
        Kind::AccessPoint(asked) => Plan::AccessPoint(asked.spec(config, name)?),
        Kind::FileSystem(asked) => Plan::FileSystem(asked),
    };
    if let Some(existing) = lookup::lookup(config, name)?.survivor {
        request.check_matches(name, &existing)?;
        return Ok(to_volume(name, &existing, None));
    }
    let mine = match plan {
        Plan::AccessPoint(spec) => create_access_point(config, name, &spec)?,
        Plan::FileSystem(asked) => create_file_system(config, name, asked)?,
    };
    // The token may have answered what another host made in this window.
    request.check_matches(name, &mine)?;
    let ready = wait_ready(config, name, mine)?;
    converge(config, name, &request, ready)
}

/// The file system to put an access point in: it must exist, be no
/// Ballast volume's own, and be (or become) available.
fn host_file_system(config: &Config, file_system_id: &str) -> Result<FileSystem> {
    let described = match efs::describe_file_systems(Some(file_system_id), None) {
        Ok(list) => list.into_iter().next(),
        Err(Error::NotFound(_)) => None,
        Err(err) => return Err(err),
    };
    let fs = described.ok_or_else(|| {
        Error::invalid_argument(format!(
            "file system {file_system_id} (filesystemid or EFS_FILESYSTEMID) does not exist \
             in this region"
        ))
    })?;
    if let Some(owner) = fs.tag(VOLUME_TAG) {
        return Err(Error::invalid_argument(format!(
            "file system {file_system_id} is volume {owner}'s own (removing that volume deletes \
             it); put access points in a file system Ballast does not manage"
        )));
    }
    match fs.life_cycle_state {
        LifeCycleState::Available | LifeCycleState::Updating => Ok(fs),
        LifeCycleState::Creating => {
            efs::wait_file_system(file_system_id, WaitFor::Available, config.policy())
        }
        LifeCycleState::Error => Err(Error::conflict(format!(
            "file system {file_system_id} is in state error; access points cannot be made in it"
        ))),
        LifeCycleState::Deleting | LifeCycleState::Deleted => Err(Error::invalid_argument(
            format!("file system {file_system_id} is being deleted"),
        )),
    }
}

/// Tag the file system as holding this cluster's access points, so `get`
/// and `list` look in it whatever the settings say.
fn mark_holder(config: &Config, fs: &FileSystem) -> Result<()> {
    let key = names::holder_tag(&config.cluster);
    if fs.tag(&key) == Some("true") {
        return Ok(());
    }
    efs::tag_resource(&fs.file_system_id, &[(key.clone(), "true".into())])?;
    log::info(
        "tagged the file system as holding access point volumes",
        &[("file_system_id", &fs.file_system_id), ("tag", &key)],
    );
    Ok(())
}

/// The access point's tags: the cluster scheme, what must be compared later
/// (`ballast.purge`) and when it was made (`ballast.created`).
pub fn access_point_tags(
    config: &Config,
    name: &VolumeName,
    spec: &ApSpec,
    now_ms: u64,
) -> Vec<(String, String)> {
    let mut tags = config.cluster.tags(name);
    if spec.purge {
        tags.push((PURGE_TAG.to_owned(), "true".to_owned()));
    }
    tags.push((CREATED_TAG.to_owned(), now_ms.to_string()));
    tags
}

/// CreateAccessPoint for `spec`, rooted at `<base>/<name>` with its owner
/// and mode, and the POSIX user when one was asked for.
pub fn access_point_request(
    config: &Config,
    name: &VolumeName,
    spec: &ApSpec,
    now_ms: u64,
) -> CreateAccessPointRequest {
    CreateAccessPointRequest {
        file_system_id: spec.file_system_id.clone(),
        client_token: names::token(&config.cluster, name, now_ms / 1000, None),
        posix_user: spec.posix_user.map(|(uid, gid)| PosixUser {
            uid,
            gid,
            secondary_gids: vec![],
        }),
        root_directory: RootDirectory {
            path: spec.root_path.clone(),
            creation_info: Some(CreationInfo {
                owner_uid: spec.uid,
                owner_gid: spec.gid,
                permissions: octal(spec.permissions),
            }),
        },
        tags: access_point_tags(config, name, spec, now_ms),
    }
}

fn create_access_point(config: &Config, name: &VolumeName, spec: &ApSpec) -> Result<EfsVolume> {
    let host = host_file_system(config, &spec.file_system_id)?;
    mark_holder(config, &host)?;
    let now_ms = unix_now_ms();
    let request = access_point_request(config, name, spec, now_ms);
    let mut point = efs::create_access_point(&request)?;
    if point.life_cycle_state.is_gone() {
        // A volume of this name removed earlier in this window.
        log::info(
            "the create token returned a deleted access point; creating with the next token",
            &[("old_access_point_id", &point.access_point_id)],
        );
        let next = CreateAccessPointRequest {
            client_token: names::token(
                &config.cluster,
                name,
                now_ms / 1000,
                Some(&point.access_point_id),
            ),
            ..request
        };
        point = efs::create_access_point(&next)?;
        refuse_gone(name, point.life_cycle_state, &point.access_point_id)?;
    }
    if point.file_system_id != host.file_system_id {
        return Err(Error::conflict(format!(
            "another host created volume {name} a moment ago as access point {} in file \
             system {}, not {}; give every host the same EFS_FILESYSTEMID",
            point.access_point_id, point.file_system_id, host.file_system_id
        )));
    }
    log::info(
        "created volume",
        &[
            ("volume", name.as_str()),
            ("access_point_id", &point.access_point_id),
            ("file_system_id", &point.file_system_id),
            ("root", &point.root_directory.path),
        ],
    );
    Ok(EfsVolume {
        file_system: host,
        access_point: Some(point),
    })
}

fn create_file_system(config: &Config, name: &VolumeName, asked: &FsOptions) -> Result<EfsVolume> {
    let now = unix_now();
    let token = names::token(&config.cluster, name, now, None);
    let request = asked.request(token, config.cluster.tags(name));
    let mut fs = efs::create_file_system(&request)?;
    if fs.life_cycle_state.is_gone() {
        log::info(
            "the create token returned a deleted file system; creating with the next token",
            &[("old_file_system_id", &fs.file_system_id)],
        );
        let next = names::token(&config.cluster, name, now, Some(&fs.file_system_id));
        fs = efs::create_file_system(&asked.request(next, config.cluster.tags(name)))?;
        refuse_gone(name, fs.life_cycle_state, &fs.file_system_id)?;
    }
    log::info(
        "created volume",
        &[
            ("volume", name.as_str()),
            ("file_system_id", &fs.file_system_id),
            ("performance_mode", &fs.performance_mode),
            ("throughput_mode", &fs.throughput_mode),
            ("encrypted", &fs.encrypted.to_string()),
        ],
    );
    Ok(EfsVolume {
        file_system: fs,
        access_point: None,
    })
}

/// Both tokens answered something being deleted: removes and creates are
/// racing; let the caller retry.
fn refuse_gone(name: &VolumeName, state: LifeCycleState, id: &str) -> Result<()> {
    if state.is_gone() {
        return Err(Error::unavailable(format!(
            "volume {name} is being removed and created at once ({id} is {}); retry",
            state.as_str()
        )));
    }
    Ok(())
}

/// Wait until the new volume is `available`. One EFS failed to make
/// (`error`) is deleted, so the next create starts afresh.
fn wait_ready(config: &Config, name: &VolumeName, mine: EfsVolume) -> Result<EfsVolume> {
    let policy = config.policy();
    let waited = match &mine.access_point {
        Some(point) => efs::wait_access_point(&point.access_point_id, WaitFor::Available, policy)
            .map(|point| EfsVolume {
                access_point: Some(point),
                ..mine.clone()
            }),
        None => efs::wait_file_system(&mine.file_system.file_system_id, WaitFor::Available, policy)
            .map(|fs| EfsVolume {
                file_system: fs,
                access_point: None,
            }),
    };
    match waited {
        Ok(ready) => Ok(ready),
        // EFS just made it: not described yet is eventual consistency, and
        // create must never say a name is missing.
        Err(Error::NotFound(message)) => Err(Error::unavailable(format!(
            "volume {name} ({}) was created but EFS does not describe it yet ({message}); retry",
            mine.id()
        ))),
        Err(err @ Error::Internal(_)) if in_error_state(&mine) => {
            log::error(
                "EFS could not create the volume; deleting it",
                &[("volume", name.as_str()), ("id", mine.id())],
            );
            if let Err(delete) = delete_new(&mine) {
                log::warn(
                    "deleting the failed volume failed",
                    &[("id", mine.id()), ("error", delete.message())],
                );
            }
            Err(Error::unavailable(format!(
                "EFS could not create volume {name} ({}; {}); deleted it; retry",
                mine.id(),
                err.message()
            )))
        }
        Err(err) => Err(err),
    }
}

/// Whether EFS now describes the volume in state `error` (a failed
/// describe says no: nothing is deleted on a guess).
fn in_error_state(volume: &EfsVolume) -> bool {
    let state = match &volume.access_point {
        Some(point) => efs::describe_access_points(None, Some(&point.access_point_id))
            .ok()
            .and_then(|found| found.first().map(|p| p.life_cycle_state)),
        None => efs::describe_file_systems(Some(&volume.file_system.file_system_id), None)
            .ok()
            .and_then(|found| found.first().map(|f| f.life_cycle_state)),
    };
    state == Some(LifeCycleState::Error)
}

/// Delete a volume this create just made (an access point, or a file
/// system that has no mount target yet).
fn delete_new(volume: &EfsVolume) -> Result<()> {
    match &volume.access_point {
        Some(point) => efs::delete_access_point(&point.access_point_id),
        None => efs::delete_file_system(&volume.file_system.file_system_id),
    }
}

/// After creating: if another volume of this name wins (a creator in
/// another token window), delete ours and answer the winner. A failed
/// lookup is no reason to fail the create: the next lookup resolves
/// duplicates the same way.
fn converge(
    config: &Config,
    name: &VolumeName,
    request: &Request,
    mine: EfsVolume,
) -> Result<Volume> {
    let found = match lookup::lookup(config, name) {
        Ok(found) => found,
        Err(err) => {
            log::warn(
                "could not check for concurrent creators",
                &[("volume", name.as_str()), ("error", err.message())],
            );
            return Ok(to_volume(name, &mine, None));
        }
    };
    let Some(survivor) = found.survivor.filter(|s| s.id() != mine.id()) else {
        return Ok(to_volume(name, &mine, None));
    };
    drop_duplicate(name, &mine, &survivor);
    request.check_matches(name, &survivor)?;
    Ok(to_volume(name, &survivor, None))
}

/// Delete our duplicate of a volume another host made first: an access
/// point always, a file system only while it has no mount target. Best
/// effort: lookups ignore a duplicate that stays.
fn drop_duplicate(name: &VolumeName, mine: &EfsVolume, survivor: &EfsVolume) {
    let fields = [
        ("volume", name.as_str()),
        ("duplicate", mine.id()),
        ("survivor", survivor.id()),
    ];
    if mine.access_point.is_none() {
        match efs::describe_mount_targets(&mine.file_system.file_system_id) {
            Ok(targets) if targets.is_empty() => {}
            Ok(_) => {
                log::warn(
                    "another host created this volume first; keeping the duplicate, which \
                     has mount targets",
                    &fields,
                );
                return;
            }
            Err(err) => {
                log::warn(
                    "could not check the duplicate's mount targets; keeping it",
                    &[("duplicate", mine.id()), ("error", err.message())],
                );
                return;
            }
        }
    }
    log::info(
        "another host created this volume first; deleting the duplicate",
        &fields,
    );
    if let Err(err) = delete_new(mine) {
        log::warn(
            "could not delete the duplicate; lookups ignore it",
            &[("duplicate", mine.id()), ("error", err.message())],
        );
    }
}

#[cfg(test)]
mod tests {
    use ballast_sdk::efs::AccessPoint;

    use super::*;
    use crate::options::Request;
    use crate::settings::tests::config;
    use crate::volume::tests::FS;

    fn name() -> VolumeName {
        VolumeName::new("pgdata").unwrap()
    }

    fn spec(settings: &[(&str, &str)], options: &[(&str, &str)]) -> (Config, ApSpec, Request) {
        let c = config(settings).unwrap();
        let request = Request::from_options(&c, Options::options(options.iter().copied())).unwrap();
        let Kind::AccessPoint(asked) = &request.kind else {
            panic!("not an access point");
        };
        let spec = asked.spec(&c, &name()).unwrap();
        (c, spec, request)
    }

    #[test]
    fn the_access_point_request_carries_owner_mode_user_and_tags() {
        let (c, s, _) = spec(
            &[("EFS_FILESYSTEMID", FS), ("EFS_TAG", "prod")],
            &[
                ("uid", "1000"),
                ("gid", "50"),
                ("permissions", "0750"),
                ("purge", "true"),
            ],
        );
        let now_ms = 1_700_000_400_123;
        let r = access_point_request(&c, &name(), &s, now_ms);
        assert_eq!(r.file_system_id, FS);
        assert_eq!(
            r.client_token,
            names::token(&c.cluster, &name(), 1_700_000_400, None)
        );
        assert_eq!(
            r.posix_user,
            Some(PosixUser {
                uid: 1000,
                gid: 50,
                secondary_gids: vec![]
            })
        );
        assert_eq!(
            r.root_directory,
            RootDirectory {
                path: "/ballast/pgdata".into(),
                creation_info: Some(CreationInfo {
                    owner_uid: 1000,
                    owner_gid: 50,
                    permissions: "750".into(),
                }),
            }
        );
        let expect = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            r.tags,
            [
                expect("Name", "prod/pgdata"),
                expect("ballast.volume", "pgdata"),
                expect("ballast.cluster", "prod"),
                expect("ballast.purge", "true"),
                expect("ballast.created", "1700000400123"),
            ]
        );
    }

    #[test]
    fn defaults_make_a_root_owned_755_directory_and_no_posix_user() {
        let (c, s, request) = spec(&[("EFS_FILESYSTEMID", FS)], &[]);
        let r = access_point_request(&c, &name(), &s, 5_000);
        assert_eq!(r.posix_user, None);
        let info = r.root_directory.creation_info.clone().unwrap();
        assert_eq!(
            (info.owner_uid, info.owner_gid, info.permissions.as_str()),
            (0, 0, "755")
        );
        assert!(!r.tags.iter().any(|(k, _)| k == PURGE_TAG));
        // Two hosts in one window send the same token; what one made matches
        // the other's request as long as the options agree.
        let other = access_point_request(&c, &name(), &s, 6_000);
        assert_eq!(other.client_token, r.client_token);
        let mut made = AccessPoint::sample(
            "fsap-1",
            FS,
            &r.root_directory.path,
            LifeCycleState::Available,
        );
        made.root_directory = r.root_directory.clone();
        made.tags = r.tags.clone();
        let made = EfsVolume {
            file_system: FileSystem::sample(FS, LifeCycleState::Available),
            access_point: Some(made),
        };
        request.check_matches(&name(), &made).unwrap();
        let (_, _, asks_more) = spec(&[("EFS_FILESYSTEMID", FS)], &[("uid", "7")]);
        assert_eq!(
            asks_more.check_matches(&name(), &made).unwrap_err().kind(),
            "conflict"
        );
    }

    #[test]
    fn a_gone_answer_twice_is_transient() {
        refuse_gone(&name(), LifeCycleState::Available, "fs-1").unwrap();
        let err = refuse_gone(&name(), LifeCycleState::Deleting, "fs-1").unwrap_err();
        assert_eq!(err.kind(), "unavailable");
        assert!(err.message().contains("fs-1 is deleting"), "{err}");
    }
}
