//! The native FUSE object filesystem, exercised only through the kernel
//! mount (std::fs and shell tools on the mountpoint) against a local S3
//! server, with the SDK as the independent check of what landed in S3.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use ballast::storage::objectfs::{self, ObjectFsConfig, ObjectMount};
use ballast_tests::Leftovers;
use ballast_tests::s3::S3Server;
use futures::StreamExt;

const BUCKET: &str = "objfs";
const MIB: usize = 1024 * 1024;

fn can_fuse(test: &str) -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let fuse = Path::new("/dev/fuse").exists();
    if !(root && fuse) {
        eprintln!("SKIPPED {test}: needs root and /dev/fuse");
    }
    root && fuse
}

/// A server, a bucket, and the filesystem mounted under a tempdir; unmounted
/// and cleaned up on drop even when the test fails.
struct Fixture {
    mount: Option<ObjectMount>,
    client: Client,
    server: S3Server,
    rt: tokio::runtime::Runtime,
    _leftovers: Leftovers,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn start(
        test: &str,
        server: Option<S3Server>,
        prefix: &str,
        tune: impl FnOnce(&mut ObjectFsConfig),
    ) -> Option<Fixture> {
        if !can_fuse(test) {
            return None;
        }
        let server = server?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(server.client());
        rt.block_on(client.create_bucket().bucket(BUCKET).send())
            .expect("create bucket");
        let dir = tempfile::tempdir().unwrap();
        let leftovers = Leftovers(dir.path().to_path_buf());
        let mut fixture = Fixture {
            mount: None,
            client,
            server,
            rt,
            _leftovers: leftovers,
            dir,
        };
        fixture.mount_with(prefix, tune);
        Some(fixture)
    }

    fn mount_with(&mut self, prefix: &str, tune: impl FnOnce(&mut ObjectFsConfig)) {
        let mnt = self.dir.path().join("mnt");
        fs::create_dir_all(&mnt).unwrap();
        let staging = self.dir.path().join("staging");
        let mut config =
            ObjectFsConfig::new(BUCKET, prefix, &staging, &[("ttl".into(), "1".into())]).unwrap();
        config.request_timeout = Duration::from_secs(20);
        tune(&mut config);
        let client = self.rt.block_on(self.server.client());
        let mount = objectfs::mount(client, self.rt.handle().clone(), config, &mnt).expect("mount");
        self.mount = Some(mount);
    }

    fn mnt(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.mnt().join(rel)
    }

    fn put(&self, key: &str, data: Vec<u8>) {
        let req = self
            .client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(data));
        self.rt.block_on(req.send()).expect("sdk put");
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let req = self.client.get_object().bucket(BUCKET).key(key);
        let out = self.rt.block_on(req.send()).ok()?;
        Some(self.rt.block_on(out.body.collect()).unwrap().to_vec())
    }

    /// Content-Length of `key` per HEAD; `None` when HEAD fails.
    fn head_len(&self, key: &str) -> Option<i64> {
        let req = self.client.head_object().bucket(BUCKET).key(key);
        self.rt.block_on(req.send()).ok()?.content_length()
    }

    fn unmount(&mut self) {
        if let Some(mount) = self.mount.take() {
            mount.unmount().expect("unmount");
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mount) = self.mount.take()
            && let Err(e) = mount.unmount()
        {
            eprintln!("unmount in cleanup failed: {e}");
        }
    }
}

/// Deterministic bytes, different per seed.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn ttl_wait() {
    // Waiting out the 1 s metadata TTL the fixture sets (the kernel's and ours).
    std::thread::sleep(Duration::from_millis(1300));
}

#[test]
fn objectfs_files_create_append_overwrite_truncate_rename_unlink() {
    let test = "objectfs_files_create_append_overwrite_truncate_rename_unlink";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", |_| {}) else {
        return;
    };

    fs::write(fx.p("empty"), b"").unwrap();
    fs::write(fx.p("one"), b"x").unwrap();
    assert_eq!(fx.get("empty").unwrap(), b"");
    assert_eq!(fx.get("one").unwrap(), b"x");
    assert_eq!(fs::metadata(fx.p("empty")).unwrap().len(), 0);
    assert_eq!(fs::read(fx.p("one")).unwrap(), b"x");

    fs::write(fx.p("f"), b"hello world").unwrap();
    let mut f = OpenOptions::new().append(true).open(fx.p("f")).unwrap();
    f.write_all(b", appended").unwrap();
    drop(f);
    assert_eq!(fx.get("f").unwrap(), b"hello world, appended");

    let f = OpenOptions::new().write(true).open(fx.p("f")).unwrap();
    f.write_all_at(b"HELLO", 0).unwrap();
    drop(f);
    assert_eq!(fx.get("f").unwrap(), b"HELLO world, appended");
    assert_eq!(fs::read(fx.p("f")).unwrap(), b"HELLO world, appended");

    let f = OpenOptions::new().write(true).open(fx.p("f")).unwrap();
    f.set_len(5).unwrap();
    drop(f);
    assert_eq!(fx.get("f").unwrap(), b"HELLO");
    assert_eq!(fs::metadata(fx.p("f")).unwrap().len(), 5);

    fs::write(fx.p("f"), b"new").unwrap(); // O_TRUNC of an existing file
    assert_eq!(fx.get("f").unwrap(), b"new");
    let st = std::process::Command::new("truncate")
        .args(["-s", "0"])
        .arg(fx.p("f"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(fx.get("f").unwrap(), b"");

    fs::write(fx.p("a"), b"moving").unwrap();
    fs::rename(fx.p("a"), fx.p("b")).unwrap();
    assert!(fx.get("a").is_none(), "rename left the source behind");
    assert_eq!(fx.get("b").unwrap(), b"moving");
    assert_eq!(fs::read(fx.p("b")).unwrap(), b"moving");
    assert_eq!(errno(&fs::metadata(fx.p("a")).unwrap_err()), libc::ENOENT);

    fs::remove_file(fx.p("b")).unwrap();
    assert!(fx.get("b").is_none());
    assert_eq!(errno(&fs::read(fx.p("b")).unwrap_err()), libc::ENOENT);

    // Data is not in S3 before close, and is after.
    let mut f = File::create(fx.p("pending")).unwrap();
    f.write_all(b"not yet").unwrap();
    assert!(fx.get("pending").is_none(), "data visible before close");
    f.sync_all().unwrap();
    assert_eq!(fx.get("pending").unwrap(), b"not yet");
    drop(f);
    fx.unmount();
}

#[test]
fn objectfs_directories_mkdir_rmdir_rename_exdev_implicit() {
    let test = "objectfs_directories_mkdir_rmdir_rename_exdev_implicit";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", |_| {}) else {
        return;
    };
    // s3s-fs keeps a "d/" marker as a bare directory on its disk, which
    // neither HEAD (500) nor any listing shows.
    directories_scenario(&fx, false);
    fx.unmount();
}

#[test]
fn objectfs_directories_on_moto_keep_markers() {
    let test = "objectfs_directories_on_moto_keep_markers";
    let Some(mut fx) = Fixture::start(test, S3Server::moto(test), "", |_| {}) else {
        return;
    };
    directories_scenario(&fx, true);
    fx.unmount();
}

/// `markers`: the server stores "d/" as an object that HEAD and listings
/// show, as S3 does.
fn directories_scenario(fx: &Fixture, markers: bool) {
    assert_eq!(fs::read_dir(fx.mnt()).unwrap().count(), 0);
    fs::create_dir(fx.p("d")).unwrap();
    if markers {
        assert_eq!(fx.head_len("d/"), Some(0), "mkdir left no empty d/ marker");
    }
    ttl_wait();
    // Never EIO: a directory, or (a server that hides empty markers) gone.
    match fs::metadata(fx.p("d")) {
        Ok(m) => assert!(m.is_dir()),
        Err(e) => {
            assert!(!markers, "mkdir not seen after the TTL: {e}");
            assert_eq!(errno(&e), libc::ENOENT, "stat of d after the TTL: {e}");
            fs::create_dir(fx.p("d")).unwrap();
        }
    }
    assert!(fs::metadata(fx.p("d")).unwrap().is_dir());
    assert_eq!(fs::read_dir(fx.p("d")).unwrap().count(), 0);
    fs::write(fx.p("d/f"), b"1").unwrap();
    let names: Vec<_> = fs::read_dir(fx.p("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["f"]);

    assert_eq!(
        errno(&fs::remove_dir(fx.p("d")).unwrap_err()),
        libc::ENOTEMPTY
    );
    assert_eq!(
        errno(&fs::rename(fx.p("d"), fx.p("d2")).unwrap_err()),
        libc::EXDEV
    );
    // mv falls back to copy + delete on EXDEV.
    let st = std::process::Command::new("mv")
        .arg(fx.p("d"))
        .arg(fx.p("d2"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(fx.get("d2/f").unwrap(), b"1");
    assert!(fx.get("d/f").is_none());

    fs::create_dir(fx.p("e")).unwrap();
    fs::rename(fx.p("e"), fx.p("e2")).unwrap();
    if markers {
        assert_eq!(fx.head_len("e2/"), Some(0), "rename left no e2/ marker");
        assert_eq!(fx.head_len("e/"), None, "rename left e/ behind");
        ttl_wait();
    }
    assert!(fs::metadata(fx.p("e2")).unwrap().is_dir());
    assert_eq!(errno(&fs::metadata(fx.p("e")).unwrap_err()), libc::ENOENT);
    fs::remove_dir(fx.p("e2")).unwrap();
    ttl_wait();
    assert_eq!(errno(&fs::metadata(fx.p("e2")).unwrap_err()), libc::ENOENT);
    if markers {
        assert_eq!(fx.head_len("e2/"), None, "rmdir left the e2/ marker");
    }

    // Implicit prefixes: keys with no directory markers.
    fx.put("imp/sub/deep.txt", b"deep".to_vec());
    ttl_wait();
    assert!(fs::metadata(fx.p("imp")).unwrap().is_dir());
    assert!(fs::metadata(fx.p("imp/sub")).unwrap().is_dir());
    assert_eq!(fs::read(fx.p("imp/sub/deep.txt")).unwrap(), b"deep");
    let names: Vec<_> = fs::read_dir(fx.p("imp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["sub"]);

    if markers {
        // A file and a directory of the same name (not possible on a
        // server backed by a filesystem): the directory wins.
        fx.put("both", b"file".to_vec());
        fx.put("both/inner", b"i".to_vec());
        ttl_wait();
        assert!(fs::metadata(fx.p("both")).unwrap().is_dir());
    }
    // A name with siblings that sort before "name/" (past one listing page).
    for i in 0..20 {
        fx.put(&format!("sib.{i:02}"), b"s".to_vec());
    }
    fx.put("sib/x", b"x".to_vec());
    ttl_wait();
    assert!(fs::metadata(fx.p("sib")).unwrap().is_dir());
    assert_eq!(fs::read(fx.p("sib/x")).unwrap(), b"x");
}

#[test]
fn objectfs_readdir_5000_entries_is_fast() {
    let test = "objectfs_readdir_5000_entries_is_fast";
    // The default TTL: the listing itself must serve `ls -l`.
    let default_ttl = ObjectFsConfig::new(BUCKET, "", Path::new("/tmp"), &[])
        .unwrap()
        .metadata_ttl;
    let tune = move |c: &mut ObjectFsConfig| c.metadata_ttl = default_ttl;
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", tune) else {
        return;
    };
    let client = fx.client.clone();
    fx.rt.block_on(async {
        futures::stream::iter(0..5000)
            .map(|i| {
                let client = client.clone();
                async move {
                    let body = ByteStream::from(format!("{i}").into_bytes());
                    client
                        .put_object()
                        .bucket(BUCKET)
                        .key(format!("many/f{i:05}"))
                        .body(body)
                        .send()
                        .await
                }
            })
            .buffer_unordered(32)
            .for_each(|r| async move {
                r.expect("put");
            })
            .await;
    });
    let started = Instant::now();
    let out = std::process::Command::new("ls")
        .arg("-l")
        .arg(fx.p("many"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(out.status.success());
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('-'))
        .count();
    assert_eq!(lines, 5000);
    eprintln!("ls -l of 5000 entries took {elapsed:?}");
    assert_eq!(fs::read(fx.p("many/f04999")).unwrap(), b"4999");
    // The kernel drops its dentries and inodes (FUSE forget): everything
    // still resolves afterwards.
    let _ = fs::write("/proc/sys/vm/drop_caches", "2");
    let again = fs::read_dir(fx.p("many")).unwrap().count();
    assert_eq!(again, 5000);
    assert_eq!(fs::read(fx.p("many/f00042")).unwrap(), b"42");
    fx.unmount();
}

fn write_and_check(fx: &Fixture, name: &str, len: usize, seed: u64) {
    let data = pattern(len, seed);
    let mut f = File::create(fx.p(name)).unwrap();
    for chunk in data.chunks(MIB) {
        f.write_all(chunk).unwrap();
    }
    drop(f);
    assert_eq!(
        fs::metadata(fx.p(name)).unwrap().len(),
        len as u64,
        "{name}: size after close"
    );
    let stored = fx.get(name).expect("object in S3");
    assert_eq!(stored.len(), len, "{name}: size in S3");
    assert!(stored == data, "{name}: bytes in S3 differ");
    let read = fs::read(fx.p(name)).unwrap();
    assert!(
        read == data,
        "{name}: bytes read back through the mount differ"
    );
}

#[test]
fn objectfs_large_files_round_trip() {
    let test = "objectfs_large_files_round_trip";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", |_| {}) else {
        return;
    };
    write_and_check(&fx, "eight", 8 * MIB + 1, 1);
    write_and_check(&fx, "big", 200 * MIB, 2);

    // An object put with the SDK reads correctly through the mount (after the TTL).
    let data = pattern(30 * MIB + 7, 3);
    fx.put("eight", data.clone());
    ttl_wait();
    let read = fs::read(fx.p("eight")).unwrap();
    assert!(read == data, "SDK overwrite not seen through the mount");
    // Random reads.
    let mut f = File::open(fx.p("eight")).unwrap();
    for off in [20 * MIB + 3, 5, 29 * MIB, 1234567] {
        let mut buf = vec![0; 4096];
        f.seek(SeekFrom::Start(off as u64)).unwrap();
        f.read_exact(&mut buf).unwrap();
        assert!(buf[..] == data[off..off + 4096], "random read at {off}");
    }
    drop(f);
    fx.unmount();
}

#[test]
fn objectfs_random_write_into_streamed_file() {
    let test = "objectfs_random_write_into_streamed_file";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", |_| {}) else {
        return;
    };
    let mut data = pattern(20 * MIB, 4);
    let mut f = File::create(fx.p("s")).unwrap();
    f.write_all(&data).unwrap();
    f.write_all_at(b"PATCHED", MIB as u64).unwrap();
    data[MIB..MIB + 7].copy_from_slice(b"PATCHED");
    drop(f);
    let stored = fx.get("s").unwrap();
    assert!(stored == data, "random write into a streamed file lost");
    fx.unmount();
}

#[test]
fn objectfs_refuses_what_s3_cannot_do() {
    let test = "objectfs_refuses_what_s3_cannot_do";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", |_| {}) else {
        return;
    };
    fs::write(fx.p("f"), b"data").unwrap();
    assert_eq!(
        errno(&fs::hard_link(fx.p("f"), fx.p("g")).unwrap_err()),
        libc::EPERM
    );
    assert_eq!(
        errno(&std::os::unix::fs::symlink("f", fx.p("l")).unwrap_err()),
        libc::ENOTSUP
    );
    assert_eq!(
        errno(&std::os::unix::fs::chown(fx.p("f"), Some(1000), None).unwrap_err()),
        libc::EPERM
    );
    std::os::unix::fs::chown(fx.p("f"), Some(0), Some(0))
        .expect("chown to the same owner is a no-op");
    let err = fs::set_permissions(fx.p("f"), fs::Permissions::from_mode(0o600)).unwrap_err();
    assert_eq!(errno(&err), libc::EPERM);
    fs::set_permissions(fx.p("f"), fs::Permissions::from_mode(0o644)).expect("no-op chmod");
    let path = std::ffi::CString::new(fx.p("f").into_os_string().into_encoded_bytes()).unwrap();
    let rc = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"user.x".as_ptr(),
            b"1".as_ptr().cast(),
            1,
            0,
        )
    };
    assert_eq!(rc, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ENOTSUP)
    );
    // Explicit times cannot be stored; "now" can (LastModified).
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let err = File::options()
        .write(true)
        .open(fx.p("f"))
        .unwrap()
        .set_modified(old)
        .unwrap_err();
    assert_eq!(errno(&err), libc::EPERM);
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), std::ptr::null(), 0) };
    assert_eq!(rc, 0, "touch: {}", std::io::Error::last_os_error());
    assert_eq!(fx.get("f").unwrap(), b"data");
    fx.unmount();
}

#[test]
fn objectfs_staging_limit_gives_enospc() {
    let test = "objectfs_staging_limit_gives_enospc";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", |c| {
        c.staging_limit = MIB as u64
    }) else {
        return;
    };
    fx.put("big", pattern(3 * MIB, 5));
    let f = OpenOptions::new().write(true).open(fx.p("big")).unwrap();
    let err = f.write_all_at(b"x", 10).unwrap_err();
    assert_eq!(errno(&err), libc::ENOSPC);
    drop(f);
    assert_eq!(
        fx.get("big").unwrap(),
        pattern(3 * MIB, 5),
        "a refused write changed the object"
    );
    fx.unmount();
}

#[test]
fn objectfs_prefix_volume_sees_only_its_prefix_and_hides_marker() {
    let test = "objectfs_prefix_volume_sees_only_its_prefix_and_hides_marker";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "vols/a", |_| {}) else {
        return;
    };
    fx.put("vols/a/.ballast-volume.json", b"{}".to_vec());
    fx.put("vols/a/mine", b"m".to_vec());
    fx.put("vols/b/theirs", b"t".to_vec());
    fx.put("top", b"t".to_vec());
    ttl_wait();
    let mut names: Vec<_> = fs::read_dir(fx.mnt())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["mine"]);
    assert_eq!(
        errno(&fs::metadata(fx.p(".ballast-volume.json")).unwrap_err()),
        libc::ENOENT
    );
    assert!(fs::write(fx.p(".ballast-volume.json"), b"x").is_err());
    assert!(fs::remove_file(fx.p(".ballast-volume.json")).is_err());
    assert_eq!(fx.get("vols/a/.ballast-volume.json").unwrap(), b"{}");
    fs::write(fx.p("new"), b"n").unwrap();
    assert_eq!(fx.get("vols/a/new").unwrap(), b"n");
    fx.unmount();
}

#[test]
fn objectfs_moto_smoke() {
    let test = "objectfs_moto_smoke";
    let Some(mut fx) = Fixture::start(test, S3Server::moto(test), "", |_| {}) else {
        return;
    };
    let data = pattern(9 * MIB, 6);
    fs::write(fx.p("m"), &data).unwrap();
    assert!(fx.get("m").unwrap() == data);
    assert_eq!(fs::metadata(fx.p("m")).unwrap().len(), data.len() as u64);
    let read = fs::read(fx.p("m")).unwrap();
    let first_diff = read.iter().zip(&data).position(|(a, b)| a != b);
    assert!(
        read == data,
        "read {} bytes, first difference at {first_diff:?}",
        read.len()
    );
    fs::create_dir(fx.p("dir")).unwrap();
    fs::rename(fx.p("m"), fx.p("dir/m2")).unwrap();
    let names: Vec<_> = fs::read_dir(fx.p("dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["m2"]);
    assert!(fx.get("dir/m2").unwrap() == data);
    fx.unmount();
}

#[test]
fn objectfs_endpoint_dies_mid_read_gives_eio() {
    let test = "objectfs_endpoint_dies_mid_read_gives_eio";
    let Some(mut fx) = Fixture::start(test, S3Server::fast(test), "", |c| {
        c.request_timeout = Duration::from_secs(3);
        c.read_window_max = 8 * MIB;
    }) else {
        return;
    };
    fx.put("big", pattern(64 * MIB, 7));
    ttl_wait();
    let mut f = File::open(fx.p("big")).unwrap();
    let mut buf = vec![0; MIB];
    f.read_exact(&mut buf).unwrap();
    fx.server.kill();
    let started = Instant::now();
    let err = loop {
        match f.read(&mut buf) {
            Ok(0) => panic!("reached EOF after the endpoint died"),
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    let elapsed = started.elapsed();
    assert_eq!(errno(&err), libc::EIO, "{err}");
    assert!(elapsed < Duration::from_secs(60), "EIO took {elapsed:?}");
    drop(f);
    fx.unmount();
}
