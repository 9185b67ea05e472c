//! The same EFS success path against moto and against cloudsim, through
//! the real aws-sdk-efs client: create a file system with tags, describe
//! it, create a mount target in a subnet, describe mount targets, create an
//! access point with a POSIX user and a root directory, describe access
//! points, delete the access point, the mount target and the file system.
//! The answers are reduced to their shapes (which fields are present, the
//! states, the values the test set; ids replaced by names) and compared.
//! Where cloudsim follows AWS and moto does not, the difference is listed
//! and checked to be exactly that.

mod efs_common;
mod support;

use std::collections::BTreeMap;

use aws_sdk_efs::Client;
use aws_sdk_efs::error::ProvideErrorMetadata;
use aws_sdk_efs::types::Tag;
use efs_common::*;

/// One answer's shape: field → normalized value.
type Shape = BTreeMap<String, String>;

/// Every step's shape, in order: (step, shape).
type Run = Vec<(String, Shape)>;

/// Real ids (and the subnet) → stable names, so answers from two clouds
/// compare while links between resources still show.
#[derive(Default)]
struct Names(Vec<(String, String)>);

impl Names {
    fn add(&mut self, real: &str, name: &str) {
        self.0.push((real.to_string(), name.to_string()));
    }

    fn norm(&self, value: &str) -> String {
        self.0
            .iter()
            .fold(value.to_string(), |v, (real, name)| v.replace(real, name))
    }
}

const ABSENT: &str = "<absent>";

fn opt(value: Option<impl ToString>) -> String {
    value.map_or(ABSENT.into(), |v| v.to_string())
}

/// `prefix-<hex>` ids the test did not make itself (ENIs, VPCs).
fn id_shape(value: Option<&str>) -> String {
    match value {
        Some(id) => match id.split_once('-') {
            Some((prefix, hex))
                if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                format!("{prefix}-<hex>")
            }
            _ => format!("malformed {id}"),
        },
        None => ABSENT.into(),
    }
}

fn tags_shape(tags: &[Tag]) -> String {
    let mut pairs: Vec<_> = tags
        .iter()
        .map(|t| format!("{}={}", t.key(), t.value()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// The shape of a file system, from CreateFileSystem's output or a
/// `FileSystemDescription` (same accessors).
macro_rules! file_system_shape {
    ($fs:expr, $names:expr) => {{
        let (fs, names): (_, &Names) = ($fs, $names);
        let mut s = Shape::new();
        s.insert("OwnerId".into(), fs.owner_id().into());
        s.insert("CreationToken".into(), fs.creation_token().into());
        s.insert("FileSystemId".into(), names.norm(fs.file_system_id()));
        s.insert(
            "FileSystemArn".into(),
            opt(fs.file_system_arn().map(|a| names.norm(a))),
        );
        s.insert(
            "CreationTime".into(),
            (fs.creation_time().secs() > 1_600_000_000).to_string(),
        );
        s.insert(
            "LifeCycleState".into(),
            fs.life_cycle_state().as_str().into(),
        );
        s.insert("Name".into(), opt(fs.name()));
        s.insert(
            "NumberOfMountTargets".into(),
            fs.number_of_mount_targets().to_string(),
        );
        s.insert(
            "SizeInBytes".into(),
            opt(fs.size_in_bytes().map(|_| "present")),
        );
        s.insert(
            "PerformanceMode".into(),
            fs.performance_mode().as_str().into(),
        );
        s.insert("Encrypted".into(), opt(fs.encrypted()));
        s.insert("KmsKeyId".into(), opt(fs.kms_key_id()));
        s.insert(
            "ThroughputMode".into(),
            opt(fs.throughput_mode().map(|m| m.as_str())),
        );
        s.insert(
            "ProvisionedThroughputInMibps".into(),
            opt(fs.provisioned_throughput_in_mibps()),
        );
        s.insert(
            "AvailabilityZoneName".into(),
            opt(fs.availability_zone_name()),
        );
        s.insert("AvailabilityZoneId".into(), opt(fs.availability_zone_id()));
        s.insert("Tags".into(), tags_shape(fs.tags()));
        s.insert(
            "FileSystemProtection".into(),
            opt(fs.file_system_protection().map(|_| "present")),
        );
        s
    }};
}

/// The shape of a mount target (CreateMountTarget's output or a description).
macro_rules! mount_target_shape {
    ($mt:expr, $names:expr) => {{
        let (mt, names): (_, &Names) = ($mt, $names);
        let mut s = Shape::new();
        s.insert("OwnerId".into(), opt(mt.owner_id()));
        s.insert("MountTargetId".into(), names.norm(mt.mount_target_id()));
        s.insert("FileSystemId".into(), names.norm(mt.file_system_id()));
        s.insert("SubnetId".into(), names.norm(mt.subnet_id()));
        s.insert(
            "LifeCycleState".into(),
            mt.life_cycle_state().as_str().into(),
        );
        // Both subnets are 10.0.0.0/24 (moto's as created here, cloudsim's first zone).
        let in_subnet = mt.ip_address().is_some_and(|ip| ip.starts_with("10.0.0."));
        s.insert(
            "IpAddress".into(),
            if in_subnet {
                "in 10.0.0.0/24".into()
            } else {
                format!("{:?}", mt.ip_address())
            },
        );
        s.insert(
            "NetworkInterfaceId".into(),
            id_shape(mt.network_interface_id()),
        );
        let zone_id_ok = mt
            .availability_zone_id()
            .is_some_and(|z| z.starts_with("use1-az"));
        s.insert(
            "AvailabilityZoneId".into(),
            if zone_id_ok {
                "use1-az<n>".into()
            } else {
                opt(mt.availability_zone_id())
            },
        );
        s.insert(
            "AvailabilityZoneName".into(),
            opt(mt.availability_zone_name()),
        );
        s.insert("VpcId".into(), id_shape(mt.vpc_id()));
        s
    }};
}

/// The shape of an access point (CreateAccessPoint's output or a description).
macro_rules! access_point_shape {
    ($ap:expr, $names:expr) => {{
        let (ap, names): (_, &Names) = ($ap, $names);
        let mut s = Shape::new();
        s.insert("ClientToken".into(), opt(ap.client_token()));
        s.insert("Name".into(), opt(ap.name()));
        s.insert("Tags".into(), tags_shape(ap.tags()));
        s.insert(
            "AccessPointId".into(),
            opt(ap.access_point_id().map(|i| names.norm(i))),
        );
        s.insert(
            "AccessPointArn".into(),
            opt(ap.access_point_arn().map(|a| names.norm(a))),
        );
        s.insert(
            "FileSystemId".into(),
            opt(ap.file_system_id().map(|i| names.norm(i))),
        );
        s.insert("PosixUser".into(), format!("{:?}", ap.posix_user()));
        s.insert("RootDirectory".into(), format!("{:?}", ap.root_directory()));
        s.insert("OwnerId".into(), opt(ap.owner_id()));
        s.insert(
            "LifeCycleState".into(),
            opt(ap.life_cycle_state().map(|l| l.as_str())),
        );
        s
    }};
}

/// A list answer: its length, then each item's shape under `i.field`.
fn list_shape(items: Vec<Shape>) -> Shape {
    let mut s = Shape::new();
    s.insert("count".into(), items.len().to_string());
    for (i, item) in items.into_iter().enumerate() {
        s.extend(item.into_iter().map(|(k, v)| (format!("{i}.{k}"), v)));
    }
    s
}

/// The list shape of `items`, each reduced by the macro `$shape`.
macro_rules! shapes {
    ($items:expr, $shape:ident, $names:expr) => {
        list_shape($items.iter().map(|item| $shape!(item, $names)).collect())
    };
}

fn error_shape(code: Option<&str>) -> Shape {
    Shape::from([("error".to_string(), opt(code))])
}

const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The success path, against one cloud; `subnet` is a subnet in us-east-1a.
async fn run(efs: &Client, subnet: &str) -> Run {
    let mut names = Names::default();
    names.add(subnet, "$subnet");
    let mut out = Run::new();
    let mut step = |name: &str, shape: Shape| out.push((name.to_string(), shape));

    let fs = efs
        .create_file_system()
        .creation_token("compare-fs")
        .encrypted(true)
        .kms_key_id(KMS_KEY)
        .tags(tag("Name", "shared-data"))
        .tags(tag("cluster", "ballast"))
        .send()
        .await
        .unwrap();
    let fs_id = fs.file_system_id().to_string();
    names.add(&fs_id, "$fs");
    step("CreateFileSystem", file_system_shape!(&fs, &names));

    let described = describe_file_system(efs, &fs_id).await.unwrap();
    step(
        "DescribeFileSystems(id)",
        shapes!(described.file_systems(), file_system_shape, &names),
    );
    let by_token = file_systems_with_token(efs, "compare-fs").await;
    step(
        "DescribeFileSystems(token)",
        shapes!(by_token, file_system_shape, &names),
    );

    let mt = efs
        .create_mount_target()
        .file_system_id(&fs_id)
        .subnet_id(subnet)
        .send()
        .await
        .unwrap();
    let mt_id = mt.mount_target_id().to_string();
    names.add(&mt_id, "$mt");
    step("CreateMountTarget", mount_target_shape!(&mt, &names));
    let targets = mount_targets_of(efs, &fs_id).await;
    step(
        "DescribeMountTargets(fs)",
        shapes!(targets, mount_target_shape, &names),
    );
    let described = describe_file_system(efs, &fs_id).await.unwrap();
    step(
        "DescribeFileSystems(with target)",
        shapes!(described.file_systems(), file_system_shape, &names),
    );

    let ap = efs
        .create_access_point()
        .client_token("compare-ap")
        .file_system_id(&fs_id)
        .posix_user(posix_user_of(1001, &[27]))
        .root_directory(root_directory_of("/ballast/volumes/vol1", 1001, "0755"))
        .tags(tag("Name", "vol1"))
        .tags(tag("volume", "vol1"))
        .send()
        .await
        .unwrap();
    let ap_id = ap.access_point_id().unwrap().to_string();
    names.add(&ap_id, "$ap");
    step("CreateAccessPoint", access_point_shape!(&ap, &names));
    let points = access_points_of(efs, &fs_id).await;
    step(
        "DescribeAccessPoints(fs)",
        shapes!(points.access_points(), access_point_shape, &names),
    );
    let point = describe_access_point(efs, &ap_id).await.unwrap();
    step(
        "DescribeAccessPoints(id)",
        shapes!(point.access_points(), access_point_shape, &names),
    );
    let tags = tags_of(efs, &fs_id).await;
    step(
        "ListTagsForResource(fs)",
        Shape::from([("Tags".to_string(), tags_shape(&tags))]),
    );

    delete_access_point(efs, &ap_id).await;
    let points = access_points_of(efs, &fs_id).await;
    step(
        "DescribeAccessPoints(after delete)",
        shapes!(points.access_points(), access_point_shape, &names),
    );

    delete_mount_target(efs, &mt_id).await;
    let targets = mount_targets_of(efs, &fs_id).await;
    step(
        "DescribeMountTargets(after delete)",
        shapes!(targets, mount_target_shape, &names),
    );

    delete_file_system(efs, &fs_id).await;
    let gone = describe_file_system(efs, &fs_id).await.unwrap_err();
    step(
        "DescribeFileSystems(after delete)",
        error_shape(gone.as_service_error().and_then(|e| e.code())),
    );
    out
}

/// Where cloudsim follows AWS and moto does not: (step, field, cloudsim, moto).
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    // AWS answers a create while the resource is still being made; moto makes it at once.
    (
        "CreateFileSystem",
        "LifeCycleState",
        "creating",
        "available",
    ),
    (
        "CreateMountTarget",
        "LifeCycleState",
        "creating",
        "available",
    ),
    (
        "CreateAccessPoint",
        "LifeCycleState",
        "creating",
        "available",
    ),
    // AWS reports FileSystemProtection on every file system; moto leaves it out.
    (
        "CreateFileSystem",
        "FileSystemProtection",
        "present",
        ABSENT,
    ),
    (
        "DescribeFileSystems(id)",
        "0.FileSystemProtection",
        "present",
        ABSENT,
    ),
    (
        "DescribeFileSystems(token)",
        "0.FileSystemProtection",
        "present",
        ABSENT,
    ),
    (
        "DescribeFileSystems(with target)",
        "0.FileSystemProtection",
        "present",
        ABSENT,
    ),
];

#[tokio::test]
async fn efs_success_path_matches_moto() {
    let Some(moto) = cloudsim::moto::Moto::start("efs_success_path_matches_moto") else {
        return;
    };

    // moto wants a real subnet for the mount target.
    let ec2 = support::ec2(&moto.url).await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap();
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block("10.0.0.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let moto_subnet = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_string();
    let from_moto = run(&support::efs(&moto.url).await, &moto_subnet).await;

    let (_dir, running) = support::sim(|_| {}).await;
    let from_sim = run(
        &support::efs(&running.api_url).await,
        &cloudsim::ids::subnet_for_zone("us-east-1a"),
    )
    .await;

    assert_eq!(from_sim.len(), from_moto.len());
    let mut unexpected = Vec::new();
    let mut known = Vec::new();
    for ((step, sim), (moto_step, moto)) in from_sim.iter().zip(&from_moto) {
        assert_eq!(step, moto_step);
        let fields: std::collections::BTreeSet<_> = sim.keys().chain(moto.keys()).collect();
        for field in fields {
            let (s, m) = (
                sim.get(field).map_or(ABSENT, String::as_str),
                moto.get(field).map_or(ABSENT, String::as_str),
            );
            if s == m {
                continue;
            }
            if KNOWN_DIFFERENCES.contains(&(step.as_str(), field.as_str(), s, m)) {
                known.push(format!("{step} {field}: cloudsim {s}, moto {m}"));
            } else {
                unexpected.push(format!("{step} {field}: cloudsim {s:?}, moto {m:?}"));
            }
        }
    }
    eprintln!(
        "known differences (cloudsim follows AWS):\n  {}",
        known.join("\n  ")
    );
    assert!(
        unexpected.is_empty(),
        "cloudsim and moto disagree:\n  {}",
        unexpected.join("\n  ")
    );
    assert_eq!(
        known.len(),
        KNOWN_DIFFERENCES.len(),
        "every known difference still shows: {known:#?}"
    );
}
