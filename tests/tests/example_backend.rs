//! The third-party example backend (backends/examples/rest-volumes) end to
//! end: a real `ballast serve` loads its component, granted `http` and
//! `instance` only, and it manages the volumes of an in-memory "Example
//! Cloud" served here with axum. The cloud refuses every request without
//! `Authorization: Bearer <token>`; the host adds that header from its
//! config's bearer credential (the backend never sees the token). The
//! cloud's attach plays the hypervisor: the volume's sparse image,
//! loop-attached, behind a `virtio-<serial>` link in the host's by-id
//! directory, so the host finds, formats and mounts a real block device.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use ballast_tests::cloud::{PluginCalls, call, call_err, call_ok, write_synced};
use ballast_tests::serve::{BallastConfig, BallastServe, blkid_probe, loop_devices_of};
use serde_json::{Value, json};

/// The token the host's config holds; only the host and the cloud see it.
const TOKEN: &str = "example-t0ken-s3cr3t";
/// This host's identity (the config's static instance source).
const INSTANCE: &str = "vm-example-1";

/// One volume of the Example Cloud.
#[derive(Debug, Clone)]
struct CloudVolume {
    id: String,
    size_gb: u64,
    attached_to: Vec<String>,
}

impl CloudVolume {
    fn json(&self, name: &str) -> Value {
        json!({
            "name": name,
            "id": self.id,
            "size_gb": self.size_gb,
            "zone": "zone-a",
            "attached_to": self.attached_to,
        })
    }
}

/// What the cloud holds and what it saw.
#[derive(Default)]
struct CloudState {
    volumes: BTreeMap<String, CloudVolume>,
    created: u32,
    /// Every request: method, path, its `authorization` header.
    requests: Vec<(String, String, Option<String>)>,
    /// Requests answered 401.
    refused: u32,
}

type Shared = Arc<Mutex<CloudState>>;

#[derive(Clone)]
struct App {
    state: Shared,
    /// Volume images, `<serial>.img` (a loop device reports its backing
    /// file's stem as its serial, which the host checks).
    disks: PathBuf,
    /// The host's by-id directory: `virtio-<serial>` links.
    by_id: PathBuf,
}

/// The Example Cloud API (see the example's module docs), on 127.0.0.1.
struct ExampleCloud {
    app: App,
    origin: String,
    /// Serves the API until the cloud is dropped.
    _runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl ExampleCloud {
    fn start() -> ExampleCloud {
        let dir = tempfile::Builder::new()
            .prefix("ballast-example-cloud-")
            .tempdir()
            .expect("temp dir for the cloud");
        let app = App {
            state: Shared::default(),
            disks: dir.path().join("disks"),
            by_id: dir.path().join("by-id"),
        };
        fs::create_dir_all(&app.disks).unwrap();
        fs::create_dir_all(&app.by_id).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the cloud");
        let router = Router::new()
            .route("/v1/volumes", get(list_volumes))
            .route(
                "/v1/volumes/{name}",
                get(get_volume).put(put_volume).delete(delete_volume),
            )
            .route(
                "/v1/volumes/{name}/attachments/{instance}",
                put(attach).delete(detach),
            )
            .layer(middleware::from_fn_with_state(app.clone(), require_token))
            .with_state(app.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a port for the cloud");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });
        ExampleCloud {
            app,
            origin,
            _runtime: runtime,
            dir,
        }
    }

    /// A `ballast serve` running the example as this cloud's instance
    /// `INSTANCE`, its bearer credential holding `token`.
    fn host(&self, tag: &str, token: &str) -> BallastServe {
        let mut config = BallastConfig::local(&format!("example-{tag}"));
        config.socket_dir = config.dir.path().join("sockets");
        config.by_id_dir = Some(self.app.by_id.clone());
        config.backend = "example".into();
        let module = ballast_tests::module("ballast_example_rest_volumes")
            .display()
            .to_string();
        let origin = &self.origin;
        config.backend_toml = format!(
            "module = {module:?}\n\
             capabilities = [\"http\", \"instance\"]\n\
             settings = {{ EXAMPLE_ENDPOINT = \"{origin}/v1\", EXAMPLE_DEFAULTSIZE = \"1\", EXAMPLE_TOKEN = {token:?} }}\n\
             instance = {{ source = \"static\", provider = \"example\", instance_id = {INSTANCE:?}, zone = \"zone-a\" }}\n"
        );
        config.extra = format!(
            "\n[backends.example.http]\n\
             allow = [{origin:?}]\n\
             allow_loopback = true\n\
             \n[backends.example.http.credentials.example]\n\
             provider = \"bearer\"\n\
             setting = \"EXAMPLE_TOKEN\"\n\
             hosts = [{origin:?}]\n"
        );
        BallastServe::start(config)
    }

    fn volume(&self, name: &str) -> Option<CloudVolume> {
        self.app.state.lock().unwrap().volumes.get(name).cloned()
    }

    fn names(&self) -> Vec<String> {
        let state = self.app.state.lock().unwrap();
        state.volumes.keys().cloned().collect()
    }

    fn requests(&self) -> Vec<(String, String, Option<String>)> {
        self.app.state.lock().unwrap().requests.clone()
    }

    fn refused(&self) -> u32 {
        self.app.state.lock().unwrap().refused
    }

    fn image(&self, id: &str) -> PathBuf {
        image_of(&self.app.disks, id)
    }

    fn link(&self, id: &str) -> PathBuf {
        self.app.by_id.join(format!("virtio-{id}"))
    }
}

impl Drop for ExampleCloud {
    /// Detaches the loop devices over this cloud's images that a failed
    /// test left (hosts are dropped first, so nothing is mounted on them).
    fn drop(&mut self) {
        if let Ok(images) = fs::read_dir(&self.app.disks) {
            for image in images.flatten() {
                for device in loop_devices_of(&image.path()) {
                    let _ = Command::new("losetup").args(["-d", &device]).status();
                    eprintln!(
                        "example cloud cleanup: losetup -d {device} ({})",
                        image.path().display()
                    );
                }
            }
        }
        eprintln!("example cloud: {} removed", self.dir.path().display());
    }
}

fn image_of(disks: &Path, id: &str) -> PathBuf {
    disks.join(format!("{id}.img"))
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Every request must carry the host's token; the cloud keeps what it saw.
async fn require_token(State(app): State<App>, request: Request, next: Next) -> Response {
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ok = auth.as_deref() == Some(format!("Bearer {TOKEN}").as_str());
    {
        let mut state = app.state.lock().unwrap();
        state.requests.push((
            request.method().to_string(),
            request.uri().path().to_string(),
            auth,
        ));
        if !ok {
            state.refused += 1;
        }
    }
    if !ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required".into(),
        );
    }
    next.run(request).await
}

async fn list_volumes(State(app): State<App>) -> Response {
    let state = app.state.lock().unwrap();
    let volumes: Vec<Value> = state.volumes.iter().map(|(n, v)| v.json(n)).collect();
    axum::Json(json!({ "volumes": volumes })).into_response()
}

async fn get_volume(State(app): State<App>, UrlPath(name): UrlPath<String>) -> Response {
    match app.state.lock().unwrap().volumes.get(&name) {
        Some(volume) => axum::Json(volume.json(&name)).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no volume {name}")),
    }
}

/// 201 new, 200 the same size again, 409 another size.
async fn put_volume(
    State(app): State<App>,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(size_gb) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["size_gb"].as_u64())
        .filter(|&s| s > 0)
    else {
        return error(StatusCode::BAD_REQUEST, "size_gb is required".into());
    };
    let mut state = app.state.lock().unwrap();
    if let Some(volume) = state.volumes.get(&name) {
        if volume.size_gb != size_gb {
            return error(
                StatusCode::CONFLICT,
                format!("volume {name} exists with {} GB", volume.size_gb),
            );
        }
        return axum::Json(volume.json(&name)).into_response();
    }
    state.created += 1;
    let volume = CloudVolume {
        id: format!("exv-{:04}", state.created),
        size_gb,
        attached_to: Vec::new(),
    };
    let answer = volume.json(&name);
    state.volumes.insert(name, volume);
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// 204; 409 while attached; 404 when absent. The image goes with it.
async fn delete_volume(State(app): State<App>, UrlPath(name): UrlPath<String>) -> Response {
    let mut state = app.state.lock().unwrap();
    let Some(volume) = state.volumes.get(&name) else {
        return error(StatusCode::NOT_FOUND, format!("no volume {name}"));
    };
    if !volume.attached_to.is_empty() {
        return error(
            StatusCode::CONFLICT,
            format!("volume {name} is attached to {:?}", volume.attached_to),
        );
    }
    let _ = fs::remove_file(image_of(&app.disks, &volume.id));
    state.volumes.remove(&name);
    StatusCode::NO_CONTENT.into_response()
}

/// Plug the volume into `instance`: its image (made on first use, sparse)
/// on a loop device behind `virtio-<serial>`. The serial is the volume id.
async fn attach(
    State(app): State<App>,
    UrlPath((name, instance)): UrlPath<(String, String)>,
) -> Response {
    let mut state = app.state.lock().unwrap();
    let Some(volume) = state.volumes.get_mut(&name) else {
        return error(StatusCode::NOT_FOUND, format!("no volume {name}"));
    };
    if volume.attached_to.iter().any(|i| i != &instance) {
        return error(
            StatusCode::CONFLICT,
            format!("volume {name} is attached to {:?}", volume.attached_to),
        );
    }
    if volume.attached_to.is_empty() {
        if let Err(e) = plug(&app, volume) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, format!("attach: {e}"));
        }
        volume.attached_to.push(instance);
    }
    axum::Json(json!({ "serial": volume.id })).into_response()
}

/// 204; 404 when not attached to `instance`.
async fn detach(
    State(app): State<App>,
    UrlPath((name, instance)): UrlPath<(String, String)>,
) -> Response {
    let mut state = app.state.lock().unwrap();
    let Some(volume) = state.volumes.get_mut(&name) else {
        return error(StatusCode::NOT_FOUND, format!("no volume {name}"));
    };
    if !volume.attached_to.contains(&instance) {
        return error(
            StatusCode::NOT_FOUND,
            format!("volume {name} is not attached to {instance}"),
        );
    }
    if let Err(e) = unplug(&app, volume) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, format!("detach: {e}"));
    }
    volume.attached_to.retain(|i| i != &instance);
    StatusCode::NO_CONTENT.into_response()
}

fn plug(app: &App, volume: &CloudVolume) -> Result<(), String> {
    let image = image_of(&app.disks, &volume.id);
    if !image.exists() {
        let file = fs::File::create(&image).map_err(|e| e.to_string())?;
        file.set_len(volume.size_gb << 30)
            .map_err(|e| e.to_string())?;
    }
    let out = Command::new("losetup")
        .args(["--find", "--show"])
        .arg(&image)
        .output()
        .map_err(|e| format!("losetup: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "losetup --find --show {}: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let device = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let link = app.by_id.join(format!("virtio-{}", volume.id));
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&device, &link).map_err(|e| e.to_string())
}

/// Remove the link, detach the loop device and wait until it is gone (a
/// device someone still holds open is only marked for autoclear).
fn unplug(app: &App, volume: &CloudVolume) -> Result<(), String> {
    let _ = fs::remove_file(app.by_id.join(format!("virtio-{}", volume.id)));
    let image = image_of(&app.disks, &volume.id);
    for device in loop_devices_of(&image) {
        let status = Command::new("losetup").args(["-d", &device]).status();
        if !status.is_ok_and(|s| s.success()) {
            return Err(format!("losetup -d {device} failed"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !loop_devices_of(&image).is_empty() {
        if Instant::now() > deadline {
            return Err(format!("{} is still loop-attached", image.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn create(host: &BallastServe, name: &str, opts: Value) -> Result<(), String> {
    let (status, answer) = call(
        &host.socket_path(),
        "Create",
        json!({ "Name": name, "Opts": opts }),
    );
    match status {
        200 => Ok(()),
        _ => Err(answer["Err"].as_str().unwrap_or_default().to_string()),
    }
}

#[test]
fn volumes_are_created_found_listed_and_removed_through_the_api_with_the_hosts_token() {
    let cloud = ExampleCloud::start();
    let host = cloud.host("crud", TOKEN);
    let socket = host.socket_path();

    create(&host, "alpha", json!({})).unwrap();
    create(&host, "beta", json!({ "size": "2" })).unwrap();
    let alpha = cloud.volume("alpha").expect("alpha in the cloud");
    let beta = cloud.volume("beta").expect("beta in the cloud");
    assert_eq!(alpha.size_gb, 1, "EXAMPLE_DEFAULTSIZE = 1");
    assert_eq!(beta.size_gb, 2, "size=2 is 2 GiB");

    let err = create(&host, "gamma", json!({ "size": "lots" })).unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("invalid size \"lots\""),
        "{err}"
    );
    let err = create(&host, "gamma", json!({ "sise": "2" })).unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("sise"),
        "{err}"
    );
    assert!(cloud.volume("gamma").is_none(), "nothing created");
    assert!(
        !cloud
            .requests()
            .iter()
            .any(|(_, path, _)| path.contains("gamma")),
        "refused options never reach the API: {:?}",
        cloud.requests()
    );

    // Swarm creates on every node: the same name and size is the same volume.
    create(&host, "beta", json!({ "size": "2" })).unwrap();
    assert_eq!(cloud.volume("beta").unwrap().id, beta.id);
    let err = create(&host, "beta", json!({ "size": "3" })).unwrap_err();
    assert!(
        err.contains("conflict") && err.contains("another size"),
        "{err}"
    );
    assert_eq!(cloud.volume("beta").unwrap().size_gb, 2, "not resized");
    assert_eq!(cloud.names(), ["alpha", "beta"]);

    let got = call_ok(&socket, "Get", json!({ "Name": "alpha" }));
    assert_eq!(got["Volume"]["Name"], "alpha");
    assert_eq!(got["Volume"]["Status"]["id"], alpha.id.as_str());
    assert_eq!(got["Volume"]["Status"]["size"], "1GB");
    let missing = call_ok(&socket, "Get", json!({ "Name": "nosuch" }));
    assert!(missing["Volume"].is_null(), "{missing}");

    let listed = call_ok(&socket, "List", json!({}));
    let mut names: Vec<&str> = listed["Volumes"]
        .as_array()
        .expect("Volumes")
        .iter()
        .map(|v| v["Name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alpha", "beta"], "{listed}");

    call_ok(&socket, "Remove", json!({ "Name": "alpha" }));
    assert_eq!(cloud.names(), ["beta"]);
    let gone = call_ok(&socket, "Get", json!({ "Name": "alpha" }));
    assert!(gone["Volume"].is_null(), "{gone}");
    let err = call_err(&socket, "Remove", json!({ "Name": "alpha" }));
    assert!(err.contains("not found"), "{err}");

    // The host added the token to every request; the backend never had it
    // and the host never logged it.
    let requests = cloud.requests();
    assert!(requests.len() >= 10, "{requests:?}");
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        requests
            .iter()
            .all(|(_, _, auth)| auth.as_deref() == Some(bearer.as_str())),
        "{requests:?}"
    );
    assert_eq!(cloud.refused(), 0);
    assert!(!host.log().contains(TOKEN), "the token is in the host log");
}

#[test]
fn a_host_holding_the_wrong_token_is_refused_and_creates_nothing() {
    let cloud = ExampleCloud::start();
    let host = cloud.host("badtoken", "not-the-token");
    let err = create(&host, "alpha", json!({})).unwrap_err();
    assert!(
        err.contains("permission denied") && err.contains("HTTP 401"),
        "{err}"
    );
    assert!(cloud.names().is_empty());
    assert!(cloud.refused() >= 1);
    let listed = call_err(&host.socket_path(), "List", json!({}));
    assert!(listed.contains("HTTP 401"), "{listed}");
}

#[test]
fn mount_formats_the_attached_disk_and_keeps_data_across_remounts() {
    if !ballast_tests::can_mount("mount_formats_the_attached_disk_and_keeps_data_across_remounts") {
        return;
    }
    let cloud = ExampleCloud::start();
    let host = cloud.host("mount", TOKEN);
    let name = "pgdata";
    host.create(name, &[("size", "1")]).unwrap();
    let id = cloud.volume(name).unwrap().id;

    let dir = host.mount(name, "c0ffee").unwrap();
    assert_eq!(cloud.volume(name).unwrap().attached_to, [INSTANCE]);
    let (fs_type, device) = host.mount_of(name).expect("mounted");
    assert_eq!(fs_type, "ext4");
    assert_eq!(
        loop_devices_of(&cloud.image(&id)),
        [device.as_str()],
        "the mounted device is the volume's"
    );
    assert_eq!(
        fs::canonicalize(cloud.link(&id)).unwrap(),
        PathBuf::from(&device)
    );
    write_synced(&dir, "hello.txt", "kept across remounts");
    let got = host.get(name).unwrap();
    assert!(
        !got["Mountpoint"].as_str().unwrap_or_default().is_empty(),
        "{got}"
    );

    let err = host.remove(name).unwrap_err();
    assert!(err.contains("mounted"), "{err}");
    assert!(cloud.volume(name).is_some(), "a mounted volume stays");

    host.unmount(name, "c0ffee").unwrap();
    assert!(!host.is_mounted(name));
    assert!(
        cloud.volume(name).unwrap().attached_to.is_empty(),
        "detached on the last unmount"
    );
    assert!(!cloud.link(&id).exists());
    assert!(loop_devices_of(&cloud.image(&id)).is_empty());
    let filesystem = blkid_probe(&cloud.image(&id));
    assert!(
        filesystem.contains(&("TYPE".to_string(), "ext4".to_string())),
        "{filesystem:?}"
    );

    let dir = host.mount(name, "second").unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("hello.txt")).unwrap(),
        "kept across remounts"
    );
    host.unmount(name, "second").unwrap();
    assert_eq!(
        blkid_probe(&cloud.image(&id)),
        filesystem,
        "formatted once: the filesystem is the same"
    );

    host.remove(name).unwrap();
    assert!(cloud.volume(name).is_none());
    assert!(!cloud.image(&id).exists());
}
