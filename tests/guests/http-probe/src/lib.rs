//! A test guest that makes one request through the host's `http`
//! capability and reports everything it received, so the tests can prove
//! what a backend can and cannot see.
//!
//! `create(name, options)` sends the request the options describe:
//! - `url` (required), `method` (default GET), `body`, `timeout_ms`,
//! - `credential`: the config's name of the credential the host adds,
//! - `header` or any key starting with `header` (`header.auth`,
//!   `header2`, ...): one header, the value `Name: Value`.
//!
//! The volume it returns has, in `status`: `status` (the HTTP status),
//! `header:<name>` for every response header (repeated names joined with
//! `, `), `body` (the first [`BODY_EXCERPT`] bytes, lossy UTF-8),
//! `body-bytes` (the whole body's length) and `setting:<key>` for every
//! setting `init` received. The same pairs are logged through `log` and
//! kept in `kv`, so `get` and `list` return them too: whatever reached the
//! guest reaches the test, the guest's log lines and the host's state. A
//! refused request is returned as the host's error, unchanged (and logged).
//! Never use it for anything but tests.

use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, Error, MountSource, Options, Result, Scope, Settings,
    Volume, VolumeKind, VolumeName, http, kv, log,
};

/// How much of a body the volume's status carries.
pub const BODY_EXCERPT: usize = 8192;
const PREFIX: &str = "volume/";

struct Probe {
    /// Every setting `init` received, as given.
    settings: Vec<(String, String)>,
}

impl Backend for Probe {
    fn init(mut settings: Settings) -> Result<(Self, BackendInfo)> {
        let keys: Vec<String> = settings.remaining_keys().map(String::from).collect();
        let mut seen = Vec::new();
        for key in keys {
            if let Some(value) = settings.take(&[key.as_str()])? {
                seen.push((key, value));
            }
        }
        let info = BackendInfo {
            name: "http-probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Block,
            scope: Scope::Local,
            description: "Test guest that makes one http request per create and reports it".into(),
        };
        Ok((Probe { settings: seen }, info))
    }

    fn create(&self, name: &VolumeName, options: Options) -> Result<Volume> {
        let request = request(options)?;
        let url = request.url.clone();
        let mut status = match request.send() {
            Ok(response) => report(&response),
            Err(error) => {
                log::warn(
                    "http request refused",
                    &[
                        ("url", &url),
                        ("kind", error.kind()),
                        ("error", error.message()),
                    ],
                );
                return Err(error);
            }
        };
        for (key, value) in &self.settings {
            status.push((format!("setting:{key}"), value.clone()));
        }
        let fields: Vec<(&str, &str)> = status
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        log::info("http response received", &fields);
        kv::set_json(&key(name), &status)?;
        Ok(volume(name, status))
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        let status: Option<Vec<(String, String)>> = kv::get_json(&key(name))?;
        Ok(status.map(|s| volume(name, s)))
    }

    fn list(&self) -> Result<Vec<Volume>> {
        let mut volumes = Vec::new();
        for key in kv::list_keys(PREFIX)? {
            let name = VolumeName::new(key.trim_start_matches(PREFIX))?;
            if let Some(volume) = self.get(&name)? {
                volumes.push(volume);
            }
        }
        Ok(volumes)
    }

    fn remove(&self, name: &VolumeName, _force: bool) -> Result<()> {
        if kv::delete(&key(name))? {
            Ok(())
        } else {
            Err(Error::not_found(format!("no volume named {name}")))
        }
    }

    fn resize(&self, _name: &VolumeName, _size_bytes: u64) -> Result<Volume> {
        Err(Error::invalid_argument(
            "the http-probe test guest does not resize",
        ))
    }

    fn attach(&self, _name: &VolumeName, _options: AttachOptions) -> Result<MountSource> {
        Err(Error::invalid_argument(
            "the http-probe test guest has nothing to attach",
        ))
    }

    fn detach(&self, _name: &VolumeName) -> Result<()> {
        Ok(())
    }
}

ballast_sdk::export_backend!(Probe);

/// The request the options describe.
fn request(mut options: Options) -> Result<http::Request> {
    let url = options
        .take_non_empty(&["url"])?
        .ok_or_else(|| Error::invalid_argument("option url is required"))?;
    let method = options.take(&["method"])?.unwrap_or_else(|| "GET".into());
    let mut request = http::Request::new(&method, url);
    if let Some(body) = options.take(&["body"])? {
        request = request.body(body);
    }
    if let Some(name) = options.take_non_empty(&["credential"])? {
        request = request.credential(name);
    }
    if let Some(ms) = options.take_u64(&["timeout_ms"])? {
        let ms = u32::try_from(ms)
            .map_err(|_| Error::invalid_argument("option timeout_ms is too large"))?;
        request = request.timeout_ms(ms);
    }
    let header_keys: Vec<String> = options
        .remaining_keys()
        .filter(|k| k.to_ascii_lowercase().starts_with("header"))
        .map(String::from)
        .collect();
    for key in header_keys {
        let Some(value) = options.take(&[key.as_str()])? else {
            continue;
        };
        let (name, value) = value.split_once(':').ok_or_else(|| {
            Error::invalid_argument(format!("option {key}: expected \"Name: Value\""))
        })?;
        request = request.header(name.trim(), value.trim());
    }
    options.finish()?;
    Ok(request)
}

/// Everything the guest received, as status pairs.
fn report(response: &http::Response) -> Vec<(String, String)> {
    let mut status = vec![("status".to_string(), response.status.to_string())];
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in &response.headers {
        let key = format!("header:{}", name.to_ascii_lowercase());
        match headers.iter_mut().find(|(k, _)| *k == key) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            None => headers.push((key, value.clone())),
        }
    }
    status.extend(headers);
    let excerpt = &response.body[..response.body.len().min(BODY_EXCERPT)];
    status.push(("body".into(), String::from_utf8_lossy(excerpt).into_owned()));
    status.push(("body-bytes".into(), response.body.len().to_string()));
    status
}

fn key(name: &VolumeName) -> String {
    format!("{PREFIX}{name}")
}

fn volume(name: &VolumeName, status: Vec<(String, String)>) -> Volume {
    Volume {
        name: name.to_string(),
        id: name.to_string(),
        size_bytes: 0,
        zone: None,
        attached_to: Vec::new(),
        status,
    }
}
