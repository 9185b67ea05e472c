//! A small Compute Engine JSON client for cloudsim's GCE tests: reqwest,
//! a Bearer token from a simulated instance's metadata server, and the
//! helpers the tests share.
#![allow(dead_code)] // each test file uses a different part

use std::time::Duration;

use cloudsim::{InstanceSpec, Provider, Running, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const PROJECT: &str = "ballast-sim";
pub const ZONE_A: &str = "us-central1-a";
pub const ZONE_B: &str = "us-central1-b";

/// A second GCE instance in us-central1-a, so disks can move within a zone.
pub fn with_gce_a2(config: &mut SimConfig) {
    config.instances.push(InstanceSpec {
        id: "gce-a2".into(),
        provider: Provider::Gce,
        zone: ZONE_A.into(),
        instance_type: "n2-standard-2".into(),
    });
}

/// A simulator as `support::sim` makes it, and a client with gce-a's token.
pub async fn start(adjust: impl FnOnce(&mut SimConfig)) -> (tempfile::TempDir, Running, Gce) {
    let (dir, running) = crate::support::sim(adjust).await;
    let gce = Gce::new(&running).await;
    (dir, running, gce)
}

/// A token from `instance`'s GCE metadata server, as a host would get it.
pub async fn metadata_token(running: &Running, instance: &str) -> String {
    let url = format!(
        "{}/computeMetadata/v1/instance/service-accounts/default/token",
        running.instance(instance).metadata_url
    );
    let response = reqwest::Client::new()
        .get(url)
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().unwrap().to_string()
}

pub struct Gce {
    pub http: reqwest::Client,
    /// `<api>/compute/v1/projects/<project>`
    pub base: String,
    pub token: String,
}

/// An answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// `error.errors[0].reason`
    pub fn reason(&self) -> &str {
        self.body["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
    }

    /// Assert GCE's error document with this status and reason.
    #[track_caller]
    pub fn assert_error(&self, status: u16, reason: &str) {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_eq!(self.body["error"]["code"], status, "{:#}", self.body);
        assert_eq!(self.reason(), reason, "{:#}", self.body);
        assert!(
            self.body["error"]["errors"][0]["domain"].as_str().is_some(),
            "{:#}",
            self.body
        );
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{:#}",
            self.body
        );
        assert_eq!(
            self.body["error"]["message"], self.body["error"]["errors"][0]["message"],
            "{:#}",
            self.body
        );
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{:#}", self.body);
        self.body
    }
}

impl Gce {
    /// A client with a token from gce-a's metadata server.
    pub async fn new(running: &Running) -> Gce {
        let token = metadata_token(running, "gce-a").await;
        Gce::with_token(running, &token)
    }

    pub fn with_token(running: &Running, token: &str) -> Gce {
        Gce {
            http: reqwest::Client::new(),
            base: format!("{}/compute/v1/projects/{PROJECT}", running.api_url),
            token: token.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{path}", self.base)
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.bearer_auth(&self.token).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(json!(text))
        };
        Answer { status, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path))).await
    }

    /// GET with query parameters.
    pub async fn send_query(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(self.url(path))).await
    }

    /// GET `path` and assert it fails with `status` and `reason`.
    pub async fn assert_get_error(&self, path: &str, status: u16, reason: &str) {
        self.get(path).await.assert_error(status, reason);
    }

    /// POST `body` to `path` and assert it fails with `status` and `reason`.
    pub async fn assert_post_error(&self, path: &str, body: Value, status: u16, reason: &str) {
        self.post(path, body).await.assert_error(status, reason);
    }

    /// The operation's own path (`zones/z/operations/op` or
    /// `global/operations/op`), from its `zone` and `name`.
    pub fn operation_path(op: &Value) -> String {
        assert_eq!(op["kind"], "compute#operation", "{op:#}");
        let name = op["name"].as_str().unwrap();
        match op["zone"].as_str() {
            Some(zone) => format!(
                "zones/{}/operations/{name}",
                zone.rsplit('/').next().unwrap()
            ),
            None => format!("global/operations/{name}"),
        }
    }

    /// `operations/{op}/wait` until DONE (zonal or global, from the operation).
    pub async fn wait(&self, op: &Value) -> Value {
        let name = op["name"].as_str().unwrap();
        let path = format!("{}/wait", Gce::operation_path(op));
        for _ in 0..2 {
            let op = self.post(&path, Value::Null).await.ok();
            if op["status"] == "DONE" {
                return op;
            }
        }
        panic!("operation {name} not DONE");
    }

    /// Start a mutating call and wait for its operation; assert no error.
    pub async fn done(&self, answer: Answer) -> Value {
        let op = answer.ok();
        let op = self.wait(&op).await;
        assert!(op.get("error").is_none(), "operation failed: {op:#}");
        op
    }

    /// Insert a disk and wait until it is READY.
    pub async fn insert_disk(&self, zone: &str, body: Value) -> Value {
        let name = body["name"].as_str().unwrap().to_string();
        self.done(self.post(&format!("zones/{zone}/disks"), body).await)
            .await;
        let disk = self.get(&format!("zones/{zone}/disks/{name}")).await.ok();
        assert_eq!(disk["status"], "READY", "{disk:#}");
        disk
    }

    /// Start inserting a disk; the answer is its operation (or an error).
    pub async fn post_disk(&self, zone: &str, body: Value) -> Answer {
        self.post(&format!("zones/{zone}/disks"), body).await
    }

    /// Snapshot `zone`/`disk` as `name` (global insert) and wait for it.
    pub async fn snapshot(&self, name: &str, zone: &str, disk: &str) -> Value {
        let body = json!({"name": name, "sourceDisk": Gce::disk_source(zone, disk)});
        self.done(self.post("global/snapshots", body).await).await
    }

    /// While an operation changes the disk, attaching or deleting it
    /// answers resourceNotReady.
    pub async fn assert_disk_busy(&self, zone: &str, disk: &str) {
        self.attach(zone, "gce-a", Gce::source(zone, disk), false)
            .await
            .assert_error(400, "resourceNotReady");
        self.delete(&format!("zones/{zone}/disks/{disk}"))
            .await
            .assert_error(400, "resourceNotReady");
    }

    pub async fn disk(&self, zone: &str, name: &str) -> Value {
        self.get(&format!("zones/{zone}/disks/{name}")).await.ok()
    }

    pub async fn instance(&self, zone: &str, name: &str) -> Value {
        self.get(&format!("zones/{zone}/instances/{name}"))
            .await
            .ok()
    }

    pub fn disk_source(zone: &str, disk: &str) -> String {
        format!("projects/{PROJECT}/zones/{zone}/disks/{disk}")
    }

    /// An attachDisk body naming only the disk.
    pub fn source(zone: &str, disk: &str) -> Value {
        json!({"source": Gce::disk_source(zone, disk)})
    }

    pub async fn attach(&self, zone: &str, instance: &str, body: Value, force: bool) -> Answer {
        let query = if force { "?forceAttach=true" } else { "" };
        self.post(
            &format!("zones/{zone}/instances/{instance}/attachDisk{query}"),
            body,
        )
        .await
    }

    pub async fn detach(&self, zone: &str, instance: &str, device_name: &str) -> Answer {
        self.post(
            &format!("zones/{zone}/instances/{instance}/detachDisk?deviceName={device_name}"),
            Value::Null,
        )
        .await
    }

    /// Device names attached to an instance, by `instances.get`.
    pub async fn device_names(&self, zone: &str, instance: &str) -> Vec<String> {
        let instance = self.instance(zone, instance).await;
        instance["disks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["deviceName"].as_str().unwrap().to_string())
            .collect()
    }

    /// The disk's users, as instance names.
    pub async fn users(&self, zone: &str, disk: &str) -> Vec<String> {
        let disk = self.disk(zone, disk).await;
        disk["users"]
            .as_array()
            .map(|users| {
                users
                    .iter()
                    .map(|u| u.as_str().unwrap().rsplit('/').next().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The hypervisor's backing file of a disk, as `disks.get` showed it.
pub fn backing_file(running: &Running, disk: &Value) -> std::path::PathBuf {
    running
        .sim
        .hypervisor
        .backing_file(&format!("gce-{}", disk["id"].as_str().unwrap()))
}

/// The last path segment of a link.
pub fn last(link: &Value) -> &str {
    link.as_str().unwrap().rsplit('/').next().unwrap()
}

/// Kill an instance through the admin API.
pub async fn kill(running: &Running, instance: &str) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/_sim/instances/{instance}/kill",
            running.api_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
