//! The native FUSE object filesystem: serves an S3 bucket/prefix as a
//! POSIX-ish directory tree for object (S3) mount sources.
//!
//! One file per concern:
//! - `config`  mount settings and the s3fs-style volume options
//! - `s3ops`   every S3 request, each under the request timeout, errno mapping
//! - `inode`   inode table, metadata cache (TTL), cached listings
//! - `ops`     namespace semantics (lookup, readdir, mkdir, rename ...)
//! - `handle`  open file handles: read and write state, upload at close
//! - `read`    the sequential prefetcher and the shared memory budget
//! - `write`   streaming multipart uploads and local staging files
//! - `fs`      the fuser `Filesystem` glue
//!
//! Never: block a fuser thread on S3 (requests run as tokio tasks), wait on
//! S3 without a bound, show or touch the backend's `.ballast-volume.json`,
//! make written data visible before close/fsync, or lazily unmount.

mod config;
mod fs;
mod handle;
mod inode;
mod ops;
mod read;
mod s3ops;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use fuser::{BackgroundSession, MountOption, SessionACL};

pub use config::ObjectFsConfig;

use inode::{AttrPolicy, Table};
use ops::Inner;

/// How long unmount waits for the kernel's asynchronous releases (the
/// uploads of files closed just before) before trying umount2.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// A mounted object filesystem. Dropping it without `unmount` tries a
/// plain (never lazy) unmount.
pub struct ObjectMount {
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
    inner: Arc<Inner>,
}

/// Mounts `config`'s bucket/prefix at `mountpoint` (an existing, empty
/// directory). FUSE callbacks run on fuser threads and are bridged to the
/// SDK through `runtime`.
pub fn mount(
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Handle,
    config: ObjectFsConfig,
    mountpoint: &Path,
) -> std::io::Result<ObjectMount> {
    std::fs::create_dir_all(&config.staging_dir)?;
    let options = fuser_config(&config);
    let inner = Arc::new(inner(client, config));
    let fs = fs::ObjectFs::new(inner.clone(), runtime);
    let session = fuser::Session::new(fs, mountpoint, &options)?.spawn()?;
    tracing::info!(mountpoint = %mountpoint.display(), "object filesystem mounted");
    Ok(ObjectMount {
        session: Some(session),
        mountpoint: mountpoint.to_path_buf(),
        inner,
    })
}

fn inner(client: aws_sdk_s3::Client, config: ObjectFsConfig) -> Inner {
    let mount_time = SystemTime::now();
    Inner {
        s3: s3ops::S3::new(
            client,
            &config.bucket,
            &config.prefix,
            config.request_timeout,
        ),
        table: Mutex::new(Table::new(mount_time)),
        policy: AttrPolicy {
            uid: config.uid,
            gid: config.gid,
            file_mode: config.file_mode,
            dir_mode: config.dir_mode,
        },
        memory: read::Memory::new(config.memory_limit),
        staging: write::StagingBudget::new(&config.staging_dir, config.staging_limit),
        handles: handle::Handles::default(),
        mount_time,
        cfg: config,
    }
}

fn fuser_config(config: &ObjectFsConfig) -> fuser::Config {
    let mut options = vec![
        MountOption::FSName(format!("ballast:{}/{}", config.bucket, config.prefix)),
        // The pure-Rust mount passes this to the kernel: type "fuse.ballast".
        MountOption::CUSTOM("subtype=ballast".into()),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    options.push(if config.read_only {
        MountOption::RO
    } else {
        MountOption::RW
    });
    let mut fuser_config = fuser::Config::default();
    fuser_config.mount_options = options;
    fuser_config.acl = if config.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    fuser_config.n_threads = Some(4);
    fuser_config.clone_fd = true;
    fuser_config
}

impl ObjectMount {
    /// Waits for pending uploads of closed files, unmounts (plain umount2:
    /// a busy mount is an error, never detached) and joins the session.
    pub fn unmount(mut self) -> std::io::Result<()> {
        let deadline = Instant::now() + RELEASE_WAIT;
        while self.inner.handles.len() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::empty())
            .map_err(std::io::Error::from)?;
        if let Some(session) = self.session.take() {
            session.join()?;
        }
        tracing::info!(mountpoint = %self.mountpoint.display(), "object filesystem unmounted");
        Ok(())
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }
}
