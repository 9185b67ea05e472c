//! A volume as `docker volume inspect` shows it: the contract's `Volume`
//! with status pairs (bucket, prefix, region, mode, options and, on `get`,
//! how much is stored, counted up to a limit).

use ballast_sdk::{Result, Volume, VolumeName, log, s3};

use crate::location::{self, Location, Mode};
use crate::marker::{self, Marker};
use crate::settings::Config;

/// `get` counts at most this many objects ("10000+" beyond).
pub const USAGE_LIMIT: u64 = 10_000;

/// A volume without the stored amount (create, list).
pub fn summary(name: &VolumeName, location: &Location, region: Option<&str>) -> Volume {
    Volume {
        name: name.to_string(),
        id: location.url(),
        size_bytes: 0,
        zone: region.map(str::to_owned),
        attached_to: vec![],
        status: base_status(location, region),
    }
}

fn base_status(location: &Location, region: Option<&str>) -> Vec<(String, String)> {
    let mut status = vec![
        ("bucket".to_string(), location.bucket.clone()),
        ("prefix".to_string(), location.root.clone()),
        ("mode".to_string(), location.mode.as_str().to_string()),
    ];
    if let Some(region) = region {
        status.push(("region".into(), region.to_owned()));
    }
    status
}

/// `get`: the volume with its options and stored amount; `None` only when
/// it certainly does not exist.
pub fn get(config: &Config, name: &VolumeName) -> Result<Option<Volume>> {
    let Some(location) = location::find(config, name)? else {
        return Ok(None);
    };
    let Some((marker, region)) = lookup(config, &location)? else {
        return Ok(None);
    };
    let mut volume = summary(name, &location, Some(&region));
    if let Some(marker) = &marker {
        volume.status.push((
            "options".into(),
            config.defaults.over(&marker.options).describe(),
        ));
        volume
            .status
            .push(("created".into(), marker.created_at.to_string()));
    } else {
        volume
            .status
            .push(("options".into(), config.defaults.describe()));
    }
    // Only for display: a failed count is logged, never a failed `get`.
    match s3::usage(&location.bucket, &location.root, USAGE_LIMIT + 1) {
        Ok(usage) => {
            let objects = usage.objects - u64::from(marker.is_some()).min(usage.objects);
            let shown = if usage.truncated || objects > USAGE_LIMIT {
                format!("{USAGE_LIMIT}+")
            } else {
                objects.to_string()
            };
            volume.status.push(("objects".into(), shown));
            let marker_bytes = marker.as_ref().map_or(0, |m| m.stored_size);
            let bytes = usage.bytes.saturating_sub(marker_bytes);
            volume.status.push(("bytes".into(), bytes.to_string()));
        }
        Err(err) => log::warn(
            "could not count the volume's objects",
            &[("volume", name.as_str()), ("error", err.message())],
        ),
    }
    Ok(Some(volume))
}

/// Whether the volume at `location` exists: its marker (if any) and region.
/// `None` when it does not.
pub fn lookup(config: &Config, location: &Location) -> Result<Option<(Option<Marker>, String)>> {
    match location.mode {
        Mode::Bucket => {
            let region = match s3::head_bucket(&location.bucket) {
                Ok(region) => region,
                Err(err) if err.kind() == "not-found" => return Ok(None),
                Err(err) => return Err(err),
            };
            let region = config.region.clone().unwrap_or(region);
            Ok(Some((marker::read(location)?, region)))
        }
        Mode::Prefix => {
            let Some(marker) = marker::read(location)? else {
                return Ok(None);
            };
            let region = match &config.region {
                Some(region) => region.clone(),
                None => s3::head_bucket(&location.bucket)?,
            };
            Ok(Some((Some(marker), region)))
        }
    }
}

/// Every volume: the buckets (bucket mode) or the prefixes under the base
/// (prefix mode), plus the `bucket=` volumes this host recorded.
pub fn list(config: &Config) -> Result<Vec<Volume>> {
    let region = config.region.as_deref();
    let mut volumes = Vec::new();
    match &config.bucket {
        None => {
            for bucket in s3::list_buckets()? {
                if let Ok(name) = VolumeName::new(&bucket.name)
                    && let Ok(location) = Location::own_bucket(&name)
                {
                    volumes.push(summary(&name, &location, region));
                }
            }
        }
        Some(bucket) => {
            for prefix in s3::list_common_prefixes(bucket, &config.prefix, "/")? {
                let rest = prefix[config.prefix.len().min(prefix.len())..].trim_end_matches('/');
                if let Ok(name) = VolumeName::new(rest) {
                    let location = Location::prefix(bucket, &config.prefix, &name);
                    volumes.push(summary(&name, &location, region));
                }
            }
        }
    }
    for (name, bucket) in location::recorded()? {
        if volumes.iter().any(|v| v.name == name.as_str()) {
            continue;
        }
        let location = Location::prefix(&bucket, &config.prefix, &name);
        if marker::read(&location)?.is_some() {
            volumes.push(summary(&name, &location, region));
        }
    }
    Ok(volumes)
}
