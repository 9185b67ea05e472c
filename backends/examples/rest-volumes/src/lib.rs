//! A complete small backend for a cloud Ballast does not ship: the "Example
//! Cloud" block volume API below, reached only through the host's `http`
//! capability, with this machine's identity from `instance`. It is the
//! pattern a third party follows (see README.md); nothing here is specific
//! to Ballast's own clouds.
//!
//! The API (JSON; the host adds the credential, the backend never sees it):
//!
//! | call | answer |
//! |---|---|
//! | `GET    {base}/volumes` | `{"volumes": [volume…]}` |
//! | `GET    {base}/volumes/{name}` | `volume`, or 404 |
//! | `PUT    {base}/volumes/{name}` `{"size_gb": n}` | `volume` (201 new, 200 same size, 409 other size) |
//! | `DELETE {base}/volumes/{name}` | 204; 409 while attached |
//! | `PUT    {base}/volumes/{name}/attachments/{instance}` | `{"serial": "…"}` once attached |
//! | `DELETE {base}/volumes/{name}/attachments/{instance}` | 204 |
//!
//! where `volume` is `{"name", "id", "size_gb", "zone", "attached_to": [instance…]}`.

use ballast_sdk::http::{Request, Response, encode_component};
use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, BlockSource, Error, MountSource, Options, Result, Scope,
    Settings, Volume, VolumeKind, VolumeName, instance, parse_size,
};
use serde::Deserialize;

/// Bytes in the API's unit.
const GB: u64 = 1 << 30;

/// The backend, configured by its settings.
struct RestVolumes {
    /// `EXAMPLE_ENDPOINT`, e.g. `https://api.example.cloud/v1`.
    base: String,
    /// `EXAMPLE_CREDENTIAL`: the name of the host's credential for the API.
    credential: String,
    /// `EXAMPLE_DEFAULTSIZE` in GB.
    default_gb: u64,
}

/// A volume as the API describes it.
#[derive(Debug, Deserialize)]
struct ApiVolume {
    name: String,
    id: String,
    size_gb: u64,
    zone: Option<String>,
    #[serde(default)]
    attached_to: Vec<String>,
}

#[derive(Deserialize)]
struct VolumeList {
    volumes: Vec<ApiVolume>,
}

#[derive(Deserialize)]
struct Attachment {
    serial: String,
}

impl Backend for RestVolumes {
    fn init(mut settings: Settings) -> Result<(Self, BackendInfo)> {
        let base = settings
            .take_non_empty(&["EXAMPLE_ENDPOINT"])?
            .ok_or_else(|| Error::invalid_argument("setting EXAMPLE_ENDPOINT is required"))?;
        let credential = settings
            .take_non_empty(&["EXAMPLE_CREDENTIAL"])?
            .unwrap_or_else(|| "example".into());
        let default_gb = match settings.take_size(&["EXAMPLE_DEFAULTSIZE"])? {
            Some(bytes) => bytes.div_ceil(GB),
            None => 10,
        };
        settings.finish()?;
        let backend = RestVolumes {
            base: base.trim_end_matches('/').to_string(),
            credential,
            default_gb,
        };
        let info = BackendInfo {
            name: "example-rest-volumes".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Block,
            // The same volume is reachable from every machine of the cloud.
            scope: Scope::Global,
            description: "Example Cloud block volumes over its REST API (third-party example)"
                .into(),
        };
        Ok((backend, info))
    }

    fn create(&self, name: &VolumeName, mut options: Options) -> Result<Volume> {
        // Check every option before calling the API: a bad one creates nothing.
        let size_gb = requested_gb(&mut options, self.default_gb)?;
        options.finish()?;
        let body = serde_json::json!({ "size_gb": size_gb });
        let response = self.call(Request::put(self.volume_url(name)).json(&body)?)?;
        // A volume of this name with another size: say so, do not adopt it.
        if response.status == 409 {
            return Err(Error::conflict(format!(
                "volume {name} exists with another size (asked {size_gb} GB)"
            )));
        }
        expect_ok(&response, "create")?;
        Ok(volume(response.json()?))
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        let response = self.call(Request::get(self.volume_url(name)))?;
        // Only a 404 means "no such volume"; every other failure is an
        // error, so Docker never recreates a volume it cannot see now.
        if response.status == 404 {
            return Ok(None);
        }
        expect_ok(&response, "get")?;
        Ok(Some(volume(response.json()?)))
    }

    fn list(&self) -> Result<Vec<Volume>> {
        let response = self.call(Request::get(format!("{}/volumes", self.base)))?;
        expect_ok(&response, "list")?;
        let list: VolumeList = response.json()?;
        Ok(list.volumes.into_iter().map(volume).collect())
    }

    fn remove(&self, name: &VolumeName, _force: bool) -> Result<()> {
        let response = self.call(Request::delete(self.volume_url(name)))?;
        match response.status {
            409 => Err(Error::conflict(format!(
                "volume {name} is attached; detach it first"
            ))),
            _ => expect_ok(&response, "remove"),
        }
    }

    fn resize(&self, name: &VolumeName, size_bytes: u64) -> Result<Volume> {
        // The API cannot resize; the size the volume has already is a
        // success (a retried resize), any other is refused.
        let current = self
            .get(name)?
            .ok_or_else(|| Error::not_found(format!("no volume {name}")))?;
        if size_bytes.div_ceil(GB) * GB == current.size_bytes {
            return Ok(current);
        }
        Err(Error::invalid_argument(format!(
            "volume {name} has {} GB, asked {} GB: the Example Cloud API cannot resize volumes",
            current.size_bytes / GB,
            size_bytes.div_ceil(GB)
        )))
    }

    fn attach(&self, name: &VolumeName, _options: AttachOptions) -> Result<MountSource> {
        let me = instance::identity()?.instance_id;
        let response = self.call(Request::put(self.attachment_url(name, &me)))?;
        // Attached to another instance: a clash with the volume's state,
        // not "already exists" (the SDK's usual meaning of 409).
        if response.status == 409 {
            return Err(Error::conflict(format!(
                "volume {name} is attached to another instance: {}",
                response.text()
            )));
        }
        expect_ok(&response, "attach")?;
        let attachment: Attachment = response.json()?;
        // The host finds the disk by this link and checks its serial.
        Ok(MountSource::Block(BlockSource {
            serial: Some(attachment.serial.clone()),
            by_id: vec![format!("virtio-{}", attachment.serial)],
            device_hint: None,
            image_file: None,
            fs_type: "ext4".into(),
            mkfs_options: vec![],
            mount_options: vec![],
        }))
    }

    fn detach(&self, name: &VolumeName) -> Result<()> {
        let me = instance::identity()?.instance_id;
        let response = self.call(Request::delete(self.attachment_url(name, &me)))?;
        // Detaching what is not attached here is a success.
        match response.status {
            404 => Ok(()),
            _ => expect_ok(&response, "detach"),
        }
    }
}

impl RestVolumes {
    fn volume_url(&self, name: &VolumeName) -> String {
        format!("{}/volumes/{}", self.base, encode_component(name.as_str()))
    }

    fn attachment_url(&self, name: &VolumeName, instance: &str) -> String {
        format!(
            "{}/attachments/{}",
            self.volume_url(name),
            encode_component(instance)
        )
    }

    /// Send with this backend's credential (the host adds it).
    fn call(&self, request: Request) -> Result<Response> {
        request.credential(self.credential.clone()).send()
    }
}

/// The size `--opt size=…` asks for, in whole GB rounded up (a bare number
/// is GiB, as everywhere in Ballast), else `default_gb`.
fn requested_gb(options: &mut Options, default_gb: u64) -> Result<u64> {
    Ok(match options.take(&["size"])? {
        Some(size) => parse_size(&size)?.div_ceil(GB),
        None => default_gb,
    })
}

/// Success, or the SDK's usual error for the status.
fn expect_ok(response: &Response, what: &str) -> Result<()> {
    match response.status_error(what) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

fn volume(v: ApiVolume) -> Volume {
    Volume {
        name: v.name,
        id: v.id.clone(),
        size_bytes: v.size_gb * GB,
        zone: v.zone,
        attached_to: v.attached_to,
        status: vec![
            ("id".into(), v.id),
            ("size".into(), format!("{}GB", v.size_gb)),
        ],
    }
}

ballast_sdk::export_backend!(RestVolumes);

#[cfg(test)]
mod tests {
    //! The pure parts, natively: sizes, URLs, the API's volume as Docker's.
    use super::*;

    fn gb(options: &[(&str, &str)]) -> Result<u64> {
        let mut options = Options::options(options.iter().copied());
        let size = requested_gb(&mut options, 10)?;
        options.finish()?;
        Ok(size)
    }

    #[test]
    fn sizes_are_whole_gb_rounded_up_with_the_default_when_absent() {
        assert_eq!(gb(&[]).unwrap(), 10);
        assert_eq!(gb(&[("size", "2")]).unwrap(), 2, "a bare number is GiB");
        assert_eq!(gb(&[("Size", "512MiB")]).unwrap(), 1);
        assert_eq!(gb(&[("size", "1.5GiB")]).unwrap(), 2);
        for bad in ["lots", "0", "-1"] {
            let err = gb(&[("size", bad)]).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{bad}: {err}");
            assert!(err.message().contains(bad), "{bad}: {err}");
        }
        let err = gb(&[("sise", "2")]).unwrap_err();
        assert!(err.message().contains("sise"), "{err}");
    }

    #[test]
    fn urls_keep_the_base_and_encode_the_instance() {
        let backend = RestVolumes {
            base: "https://api.example.cloud/v1".into(),
            credential: "example".into(),
            default_gb: 10,
        };
        let name = VolumeName::new("pg.data-1").unwrap();
        assert_eq!(
            backend.volume_url(&name),
            "https://api.example.cloud/v1/volumes/pg.data-1"
        );
        assert_eq!(
            backend.attachment_url(&name, "zone a/vm 1"),
            "https://api.example.cloud/v1/volumes/pg.data-1/attachments/zone%20a%2Fvm%201"
        );
    }

    #[test]
    fn api_volumes_become_docker_volumes() {
        let api: ApiVolume = serde_json::from_value(serde_json::json!({
            "name": "pgdata", "id": "exv-0001", "size_gb": 3, "zone": null
        }))
        .unwrap();
        let v = volume(api);
        assert_eq!((v.name.as_str(), v.id.as_str()), ("pgdata", "exv-0001"));
        assert_eq!(v.size_bytes, 3 << 30);
        assert!(v.attached_to.is_empty(), "attached_to defaults to none");
        assert_eq!(
            v.status,
            vec![
                ("id".to_string(), "exv-0001".to_string()),
                ("size".to_string(), "3GB".to_string())
            ]
        );
    }
}
