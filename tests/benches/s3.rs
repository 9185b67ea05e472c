//! S3 volumes: Ballast's FUSE object filesystem against s3fs-fuse (what
//! REX-Ray's s3fs driver runs) and against the AWS SDK called directly (the
//! limit), all on the same local S3 server (s3s-fs) in one run. Printed, not
//! asserted. Needs root, /dev/fuse, s3s-fs and s3fs (tests/setup installs both).
//!
//!     cargo bench -p ballast-tests --bench s3
//!
//! Workloads: sequential write and read of a 1 GiB file, 1,000 × 64 KiB
//! files written then read one after another, and `ls -l` (readdir + stat
//! of every entry) of a directory of 5,000 objects. Each filesystem is
//! mounted afresh before every read and listing, so no kernel cache helps.
//! Set BALLAST_BENCH_BIG_MIB to change the big file's size. The small
//! files sit in the root: s3fs-fuse's mkdir fails on s3s-fs (it stores a
//! `dir/` marker as a real directory, which its HEAD then misses).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use ballast::storage::objectfs::{self, ObjectFsConfig, ObjectMount};
use ballast_tests::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

const MIB: usize = 1 << 20;
const SMALL_FILES: usize = 1000;
const SMALL_SIZE: usize = 64 << 10;
const LISTED: usize = 5000;
/// Parts and ranges of the direct SDK runs, and how many are in flight.
const SDK_PART: usize = 8 * MIB;
const SDK_PARALLEL: usize = 8;

fn main() {
    if !is_root() || !Path::new("/dev/fuse").exists() {
        println!("SKIPPED s3 bench: needs root and /dev/fuse");
        return;
    }
    let Some(server) = S3Server::fast("s3 bench") else {
        return;
    };
    let big = std::env::var("BALLAST_BENCH_BIG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024usize)
        * MIB;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(server.client());
    let work = tempfile::tempdir().unwrap();
    let data = pattern(MIB);

    println!(
        "== local S3 server s3s-fs at {}; big file {} MiB; 2 cores ==",
        server.endpoint,
        big / MIB
    );
    let mut rows = vec![];
    rows.push(run_sdk(&runtime, &client, big, &data));
    rows.push(run_fs(&runtime, &client, &Ballast, big, &data, work.path()));
    if command_exists("s3fs") {
        let s3fs = S3fsFuse {
            endpoint: server.endpoint.clone(),
        };
        rows.push(run_fs(&runtime, &client, &s3fs, big, &data, work.path()));
    } else {
        println!("s3fs-fuse not installed (apt-get install s3fs): its row is missing");
    }
    print_table(&rows, big);
}

/// One system's figures.
struct Row {
    name: &'static str,
    seq_write: Duration,
    seq_read: Duration,
    small_write: Duration,
    small_read: Duration,
    list: Duration,
}

fn print_table(rows: &[Row], big: usize) {
    let mbs = |bytes: usize, d: Duration| bytes as f64 / MIB as f64 / d.as_secs_f64();
    let small_bytes = SMALL_FILES * SMALL_SIZE;
    println!(
        "\n{:<12} {:>16} {:>16} {:>18} {:>18} {:>14}",
        "", "1 GiB write", "1 GiB read", "1000×64K write", "1000×64K read", "ls -l 5000"
    );
    for r in rows {
        println!(
            "{:<12} {:>10.1} MiB/s {:>10.1} MiB/s {:>9.1} MiB/s ({:>4.0} f/s) {:>6.1} MiB/s ({:>4.0} f/s) {:>10.0} ms",
            r.name,
            mbs(big, r.seq_write),
            mbs(big, r.seq_read),
            mbs(small_bytes, r.small_write),
            SMALL_FILES as f64 / r.small_write.as_secs_f64(),
            mbs(small_bytes, r.small_read),
            SMALL_FILES as f64 / r.small_read.as_secs_f64(),
            r.list.as_secs_f64() * 1000.0,
        );
    }
    let ballast = &rows[1];
    for other in rows {
        if other.name == ballast.name {
            continue;
        }
        let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
        println!(
            "Ballast vs {:<10} write {:.2}x, read {:.2}x, small write {:.2}x, small read {:.2}x, ls {:.2}x (>1: Ballast faster)",
            other.name,
            ratio(ballast.seq_write, other.seq_write),
            ratio(ballast.seq_read, other.seq_read),
            ratio(ballast.small_write, other.small_write),
            ratio(ballast.small_read, other.small_read),
            ratio(ballast.list, other.list),
        );
    }
}

// ---- the filesystems ----

/// A FUSE filesystem over one bucket, mounted and unmounted by the bench.
trait Mounter {
    fn name(&self) -> &'static str;
    /// Mount `bucket` at `at`; the guard unmounts on drop.
    fn mount(
        &self,
        runtime: &tokio::runtime::Runtime,
        client: &Client,
        bucket: &str,
        at: &Path,
    ) -> Box<dyn std::any::Any>;
}

struct Ballast;

struct BallastMount(Option<ObjectMount>);
impl Drop for BallastMount {
    fn drop(&mut self) {
        if let Some(mount) = self.0.take() {
            mount.unmount().expect("unmounting the Ballast filesystem");
        }
    }
}

impl Mounter for Ballast {
    fn name(&self) -> &'static str {
        "Ballast"
    }
    fn mount(
        &self,
        runtime: &tokio::runtime::Runtime,
        client: &Client,
        bucket: &str,
        at: &Path,
    ) -> Box<dyn std::any::Any> {
        let staging = at.with_extension("staging");
        let config = ObjectFsConfig::new(bucket, "", &staging, &[]).expect("default options");
        let mount = objectfs::mount(client.clone(), runtime.handle().clone(), config, at)
            .expect("mounting the Ballast filesystem");
        Box::new(BallastMount(Some(mount)))
    }
}

struct S3fsFuse {
    endpoint: String,
}

struct S3fsMount {
    child: Child,
    at: PathBuf,
}
impl Drop for S3fsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
        let _ = self.child.wait();
    }
}

impl Mounter for S3fsFuse {
    fn name(&self) -> &'static str {
        "s3fs-fuse"
    }
    fn mount(
        &self,
        _: &tokio::runtime::Runtime,
        _: &Client,
        bucket: &str,
        at: &Path,
    ) -> Box<dyn std::any::Any> {
        let passwd = at.with_extension("passwd");
        std::fs::write(&passwd, format!("{ACCESS_KEY}:{SECRET_KEY}\n")).unwrap();
        std::fs::set_permissions(&passwd, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let options = format!(
            "passwd_file={},url={},use_path_request_style,endpoint=us-east-1",
            passwd.display(),
            self.endpoint
        );
        let child = Command::new("s3fs")
            .arg(bucket)
            .arg(at)
            .args(["-f", "-o", &options])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting s3fs");
        let guard = S3fsMount {
            child,
            at: at.to_owned(),
        };
        wait_mounted(at, "fuse.s3fs");
        Box::new(guard)
    }
}

fn wait_mounted(at: &Path, fs_type: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let target = at.display().to_string();
    loop {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        if info
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(&target) && l.contains(fs_type))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{fs_type} did not mount at {target}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every workload through a mounted filesystem.
fn run_fs(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    fs: &dyn Mounter,
    big: usize,
    data: &[u8],
    work: &Path,
) -> Row {
    let bucket = format!("bench-{}", fs.name().to_ascii_lowercase().replace('-', ""));
    runtime.block_on(make_bucket(client, &bucket));
    runtime.block_on(put_listing(client, &bucket));
    let at = work.join(&bucket);
    std::fs::create_dir_all(&at).unwrap();
    let remount = || fs.mount(runtime, client, &bucket, &at);

    let mounted = remount();
    let seq_write = timed(|| write_file(&at.join("big"), big, data));
    let small_write = timed(|| {
        for i in 0..SMALL_FILES {
            write_file(&at.join(format!("small-{i:04}")), SMALL_SIZE, data);
        }
    });
    drop(mounted);

    let mounted = remount();
    let seq_read = timed(|| assert_eq!(read_file(&at.join("big")), big));
    drop(mounted);
    let mounted = remount();
    let small_read = timed(|| {
        for i in 0..SMALL_FILES {
            assert_eq!(read_file(&at.join(format!("small-{i:04}"))), SMALL_SIZE);
        }
    });
    drop(mounted);
    let mounted = remount();
    let list = timed(|| {
        let mut n = 0;
        for entry in std::fs::read_dir(at.join("listing")).unwrap() {
            entry.unwrap().metadata().unwrap();
            n += 1;
        }
        assert_eq!(n, LISTED);
    });
    drop(mounted);
    println!("{} done", fs.name());
    Row {
        name: fs.name(),
        seq_write,
        seq_read,
        small_write,
        small_read,
        list,
    }
}

fn write_file(path: &Path, size: usize, data: &[u8]) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut left = size;
    while left > 0 {
        let n = left.min(data.len());
        file.write_all(&data[..n]).unwrap();
        left -= n;
    }
    file.sync_all().unwrap();
}

fn read_file(path: &Path) -> usize {
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; MIB];
    let mut total = 0;
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

// ---- the SDK directly ----

fn run_sdk(runtime: &tokio::runtime::Runtime, client: &Client, big: usize, data: &[u8]) -> Row {
    let bucket = "bench-sdk";
    runtime.block_on(async {
        make_bucket(client, bucket).await;
        put_listing(client, bucket).await;
        let seq_write = timed_async(multipart_put(client, bucket, "big", big, data)).await;
        let seq_read = timed_async(async {
            assert_eq!(ranged_get(client, bucket, "big", big).await, big);
        })
        .await;
        let small_write = timed_async(async {
            for i in 0..SMALL_FILES {
                let body = ByteStream::from(data[..SMALL_SIZE].to_vec());
                let key = format!("small-{i:04}");
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
            }
        })
        .await;
        let small_read = timed_async(async {
            for i in 0..SMALL_FILES {
                let key = format!("small-{i:04}");
                let got = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    got.body.collect().await.unwrap().into_bytes().len(),
                    SMALL_SIZE
                );
            }
        })
        .await;
        let list = timed_async(async {
            let mut pages = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix("listing/")
                .delimiter("/")
                .into_paginator()
                .send();
            let mut n = 0;
            while let Some(page) = pages.next().await {
                n += page.unwrap().contents().len();
            }
            assert_eq!(n, LISTED);
        })
        .await;
        println!("SDK done");
        Row {
            name: "SDK direct",
            seq_write,
            seq_read,
            small_write,
            small_read,
            list,
        }
    })
}

/// A multipart upload with `SDK_PARALLEL` parts in flight.
async fn multipart_put(client: &Client, bucket: &str, key: &str, size: usize, data: &[u8]) {
    use futures::StreamExt;
    let upload = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap().to_string();
    let uploads = (0..size.div_ceil(SDK_PART)).map(|i| {
        let len = SDK_PART.min(size - i * SDK_PART);
        let body: Vec<u8> = data.iter().copied().cycle().take(len).collect();
        let number = i as i32 + 1;
        let request = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(number)
            .body(ByteStream::from(body));
        async move {
            let part = request.send().await.unwrap();
            CompletedPart::builder()
                .part_number(number)
                .e_tag(part.e_tag().unwrap())
                .build()
        }
    });
    let parts: Vec<CompletedPart> = futures::stream::iter(uploads)
        .buffered(SDK_PARALLEL)
        .collect()
        .await;
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Ranged GETs of `SDK_PART`, `SDK_PARALLEL` in flight; answers the bytes read.
async fn ranged_get(client: &Client, bucket: &str, key: &str, size: usize) -> usize {
    use futures::StreamExt;
    let ranges = (0..size.div_ceil(SDK_PART)).map(|i| {
        let start = i * SDK_PART;
        let end = (start + SDK_PART).min(size) - 1;
        let client = client.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        async move {
            let got = client
                .get_object()
                .bucket(bucket)
                .key(key)
                .range(format!("bytes={start}-{end}"))
                .send()
                .await
                .unwrap();
            got.body.collect().await.unwrap().into_bytes().len()
        }
    });
    futures::stream::iter(ranges)
        .buffered(SDK_PARALLEL)
        .fold(0, |a, n| async move { a + n })
        .await
}

// ---- set-up ----

async fn make_bucket(client: &Client, bucket: &str) {
    client.create_bucket().bucket(bucket).send().await.unwrap();
}

/// `LISTED` empty objects under `listing/`, written with the SDK (not timed).
async fn put_listing(client: &Client, bucket: &str) {
    use futures::StreamExt;
    let puts = (0..LISTED).map(|i| {
        let client = client.clone();
        let bucket = bucket.to_string();
        async move {
            client
                .put_object()
                .bucket(bucket)
                .key(format!("listing/f{i:05}"))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .unwrap();
        }
    });
    futures::stream::iter(puts)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// A megabyte of bytes that do not compress (xorshift).
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn timed(work: impl FnOnce()) -> Duration {
    let start = Instant::now();
    work();
    start.elapsed()
}

async fn timed_async(work: impl std::future::Future<Output = ()>) -> Duration {
    let start = Instant::now();
    work.await;
    start.elapsed()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn command_exists(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}
