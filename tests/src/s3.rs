//! S3 servers for tests and benches, each on a free port and stopped (by
//! PID) when dropped:
//!
//! - [`S3Server::fast`]: `s3s-fs` (the s3s project's S3 server over a
//!   directory, written in Rust): quick enough for throughput figures.
//!   tests/setup installs it into `~/.cache/ballast-tools/bin`.
//! - [`S3Server::moto`]: moto's S3, an independent implementation for
//!   compatibility.
//!
//! Both take the static keys [`ACCESS_KEY`]/[`SECRET_KEY`] and path-style
//! requests.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloudsim::moto::Moto;

use crate::serve::BallastConfig;

pub const ACCESS_KEY: &str = "ballasttest";
pub const SECRET_KEY: &str = "ballasttestsecret";
pub const REGION: &str = "us-east-1";

/// Where tests/setup installs tools built from crates.io.
pub fn tools_bin() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    PathBuf::from(home).join(".cache/ballast-tools/bin")
}

/// The `s3s-fs` binary: `$BALLAST_S3S_FS`, else the tools cache, else PATH.
pub fn s3s_fs_bin() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("BALLAST_S3S_FS") {
        return Some(PathBuf::from(path));
    }
    let cached = tools_bin().join("s3s-fs");
    if cached.exists() {
        return Some(cached);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("s3s-fs"))
            .find(|p| p.exists())
    })
}

enum Process {
    S3sFs {
        child: Child,
        _root: tempfile::TempDir,
    },
    Moto(Moto),
}

/// A running S3 server.
pub struct S3Server {
    /// e.g. `http://127.0.0.1:40123`
    pub endpoint: String,
    process: Option<Process>,
}

impl S3Server {
    /// `s3s-fs` over a fresh temporary directory; `None` (reason printed)
    /// when it is not installed, unless BALLAST_E2E_REQUIRED=1 makes that
    /// a failure.
    pub fn fast(test: &str) -> Option<S3Server> {
        let Some(bin) = s3s_fs_bin() else {
            return crate::skip(test, "s3s-fs is not installed (tests/setup installs it)");
        };
        let root = tempfile::tempdir().expect("a directory for s3s-fs");
        let port = crate::free_port();
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting s3s-fs");
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            process: Some(Process::S3sFs { child, _root: root }),
        };
        wait_listening(port, "s3s-fs");
        Some(server)
    }

    /// moto's S3; `None` (reason printed) when moto is not installed.
    pub fn moto(test: &str) -> Option<S3Server> {
        let moto = Moto::start_if_installed(test)?;
        Some(S3Server {
            endpoint: moto.url.clone(),
            process: Some(Process::Moto(moto)),
        })
    }

    /// An SDK client for this server (path-style, static keys), for
    /// checking what landed in the bucket.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        let creds =
            aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(creds)
            .force_path_style(true)
            // The tests compare every byte themselves. s3s-fs sometimes
            // answers a GET after a multipart upload with a full-object
            // CRC32 that does not match the bytes it serves (seen once in
            // 6 CI runs of objectfs_large_files_round_trip), which the
            // SDK's validation turns into a failed read before the test
            // can compare the bytes.
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// The settings a Ballast s3fs backend needs to reach this server.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("S3FS_REGION", REGION),
            ("S3FS_ENDPOINT", self.endpoint.as_str()),
            ("S3FS_ACCESSKEY", ACCESS_KEY),
            ("S3FS_SECRETKEY", SECRET_KEY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A `ballast serve` config for the s3fs backend against this server,
    /// with more `settings` (e.g. `S3FS_BUCKET`), its socket in a private
    /// directory (set `socket_dir` to serve dockerd).
    pub fn s3fs_config(&self, tag: &str, settings: &[(&str, &str)]) -> BallastConfig {
        let mut config = BallastConfig::local(&format!("s3fs-{tag}"));
        config.socket_dir = config.dir.path().join("sockets");
        config.backend = "s3fs".into();
        let mut all = self.settings();
        all.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = crate::serve::inline_table(&all);
        config.backend_toml = format!(
            "module = {:?}\n\
             capabilities = [\"log\", \"kv\", \"instance\", \"s3\"]\n\
             settings = {{ {settings} }}\n",
            crate::module("ballast_s3fs").display().to_string(),
        );
        config
    }

    /// Every bucket, read with [`Self::client`] (blocking: not for use
    /// inside an async runtime).
    pub fn buckets(&self) -> Vec<String> {
        block_on(async {
            let out = self.client().await.list_buckets().send().await.unwrap();
            out.buckets()
                .iter()
                .filter_map(|b| b.name().map(str::to_string))
                .collect()
        })
    }

    /// Keys under `prefix` in `bucket` with their sizes (first page; blocking).
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, i64)> {
        block_on(async {
            let out = self
                .client()
                .await
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await
                .unwrap_or_else(|e| panic!("listing {bucket}/{prefix}: {e:?}"));
            out.contents()
                .iter()
                .map(|o| {
                    (
                        o.key().unwrap_or_default().to_string(),
                        o.size().unwrap_or(-1),
                    )
                })
                .collect()
        })
    }

    /// Keys under `prefix` in `bucket` (first page; blocking).
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        self.objects(bucket, prefix)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// An object's bytes (blocking); panics when it is missing.
    pub fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        block_on(async {
            let out = self
                .client()
                .await
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{bucket}/{key}: {e:?}"));
            out.body.collect().await.unwrap().to_vec()
        })
    }

    /// An object's text (blocking); panics when it is missing or not UTF-8.
    pub fn object_text(&self, bucket: &str, key: &str) -> String {
        String::from_utf8(self.object(bucket, key)).expect("UTF-8 object")
    }

    /// Create a bucket (blocking).
    pub fn create_bucket(&self, bucket: &str) {
        block_on(async {
            let client = self.client().await;
            client.create_bucket().bucket(bucket).send().await.unwrap();
        })
    }

    /// Put an object (blocking).
    pub fn put(&self, bucket: &str, key: &str, body: impl AsRef<[u8]>) {
        block_on(async {
            self.client()
                .await
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.as_ref().to_vec().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("putting {bucket}/{key}: {e:?}"));
        })
    }

    /// Delete every key under `prefix` (first page; blocking).
    pub fn delete(&self, bucket: &str, prefix: &str) {
        let keys = self.keys(bucket, prefix);
        block_on(async {
            let client = self.client().await;
            for key in keys {
                client
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .unwrap();
            }
        })
    }

    /// Stop the server now (the endpoint "dies"); its data goes with it.
    pub fn kill(&mut self) {
        match self.process.take() {
            Some(Process::S3sFs { mut child, _root }) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Some(Process::Moto(moto)) => drop(moto),
            None => {}
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `future` on a runtime of its own, so that tests stay synchronous.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
