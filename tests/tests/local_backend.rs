//! The embedded `local` backend driven through the host runtime, as the
//! volume manager will drive it: the whole lifecycle, and bad input that
//! must be refused with `invalid-argument` and leave nothing behind.

use std::path::Path;

use ballast::host::Host;
use ballast::runtime::CallError;
use ballast::runtime::bindings::{AttachOptions, BackendError, MountSource};
use ballast_tests::host;

const MIB: u64 = 1024 * 1024;

fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn images(dir: &Path) -> Vec<String> {
    let images = dir.join("backends/local/images");
    let mut names: Vec<String> = std::fs::read_dir(images)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn local(dir: &Path) -> Host {
    host(dir, "")
        .await
        .expect("the default config loads the built-in local backend")
}

#[tokio::test]
async fn default_config_runs_local_with_its_info() {
    let dir = tempfile::tempdir().unwrap();
    let host = local(dir.path()).await;
    let info = host.backend(None).unwrap().info();
    assert_eq!(info.name, "local");
    assert_eq!(format!("{:?}", info.scope), "Scope::Local");
    assert_eq!(format!("{:?}", info.kind), "VolumeKind::Block");
}

#[tokio::test]
async fn lifecycle_create_get_list_attach_detach_remove() {
    let dir = tempfile::tempdir().unwrap();
    let host = local(dir.path()).await;
    let local = host.backend(None).unwrap();

    let created = local
        .create("v1", &opts(&[("size", "64MiB"), ("FsType", "xfs")]))
        .await;
    // xfs needs 300 MiB: refused, and nothing is left.
    assert!(
        matches!(
            created,
            Err(CallError::Backend(BackendError::InvalidArgument(_)))
        ),
        "{created:?}"
    );
    assert!(images(dir.path()).is_empty());

    let v1 = local
        .create("v1", &opts(&[("Size", "64MiB")]))
        .await
        .unwrap();
    assert_eq!(v1.size_bytes, 64 * MIB);
    assert_eq!(images(dir.path()), ["v1.img"]);
    let image_len = std::fs::metadata(dir.path().join("backends/local/images/v1.img"))
        .unwrap()
        .len();
    assert_eq!(image_len, 64 * MIB);

    // A decimal size is rounded up to a whole MiB; asking again matches.
    let decimal = local
        .create("dec", &opts(&[("size", "100MB")]))
        .await
        .unwrap();
    assert_eq!(decimal.size_bytes, 96 * MIB);
    local
        .create("dec", &opts(&[("size", "100MB")]))
        .await
        .expect("same options again");
    local.remove("dec", false).await.unwrap();

    // Docker calls Create again for a volume it knows: same volume back.
    let again = local.create("v1", &[]).await.unwrap();
    assert_eq!(again.id, v1.id);
    let clash = local
        .create("v1", &opts(&[("size", "128MiB")]))
        .await
        .unwrap_err();
    assert!(
        matches!(clash, CallError::Backend(BackendError::Conflict(_))),
        "{clash:?}"
    );

    local
        .create("v2", &opts(&[("size", "400MiB"), ("fstype", "xfs")]))
        .await
        .unwrap();
    let names: Vec<String> = local
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["v1", "v2"]);

    let got = local.get("v1").await.unwrap().expect("v1 exists");
    let status: std::collections::HashMap<_, _> = got.status.into_iter().collect();
    assert_eq!(status.get("fstype").map(String::as_str), Some("ext4"));
    assert_eq!(local.get("nope").await.unwrap(), None);

    let source = local
        .attach(
            "v1",
            AttachOptions {
                preempt: false,
                read_only: false,
            },
        )
        .await
        .unwrap();
    let MountSource::Block(block) = source else {
        panic!("local volumes are block sources")
    };
    assert_eq!(block.fs_type, "ext4");
    let image = block.image_file.expect("local attach names its image file");
    assert!(
        image.starts_with(
            &dir.path()
                .join("backends/local/images")
                .display()
                .to_string()
        ),
        "{image}"
    );
    assert_eq!(local.get("v1").await.unwrap().unwrap().attached_to.len(), 1);

    // Attached: remove refuses without force.
    let refused = local.remove("v1", false).await.unwrap_err();
    assert!(
        matches!(refused, CallError::Backend(BackendError::Conflict(_))),
        "{refused:?}"
    );
    local.detach("v1").await.unwrap();
    local.detach("v1").await.expect("detach is idempotent");
    assert!(
        local
            .get("v1")
            .await
            .unwrap()
            .unwrap()
            .attached_to
            .is_empty()
    );

    let grown = local.resize("v1", 96 * MIB).await.unwrap();
    assert_eq!(grown.size_bytes, 96 * MIB);
    let retried = local
        .resize("v1", 96 * MIB)
        .await
        .expect("resize to the same size is a retry, not an error");
    assert_eq!(retried.size_bytes, 96 * MIB);
    let shrink = local.resize("v1", 32 * MIB).await.unwrap_err();
    assert!(
        matches!(shrink, CallError::Backend(BackendError::InvalidArgument(_))),
        "{shrink:?}"
    );

    local.remove("v1", false).await.unwrap();
    local.remove("v2", true).await.unwrap();
    assert!(images(dir.path()).is_empty());
    assert!(local.list().await.unwrap().is_empty());
    let gone = local.remove("v1", false).await.unwrap_err();
    assert!(
        matches!(gone, CallError::Backend(BackendError::NotFound(_))),
        "{gone:?}"
    );
}

#[tokio::test]
async fn bad_input_is_invalid_argument_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let host = local(dir.path()).await;
    let local = host.backend(None).unwrap();
    let long = "x".repeat(300);
    type Case<'a> = (&'a str, Vec<(String, String)>, &'a str);
    let cases: Vec<Case> = vec![
        ("v", opts(&[("size", "-1")]), "size"),
        ("v", opts(&[("size", "abc")]), "size"),
        ("v", opts(&[("size", "1PiB")]), "size"),
        ("v", opts(&[("size", "0")]), "size"),
        ("v", opts(&[("fstype", "ntfs")]), "ntfs"),
        ("v", opts(&[("colour", "blue")]), "colour"),
        ("../x", vec![], "invalid volume name"),
        ("a/b", vec![], "invalid volume name"),
        (long.as_str(), vec![], "invalid volume name"),
        ("", vec![], "invalid volume name"),
    ];
    for (name, options, expected) in cases {
        let err = local.create(name, &options).await.unwrap_err();
        let CallError::Backend(BackendError::InvalidArgument(message)) = &err else {
            panic!("create({name:?}, {options:?}) gave {err:?}, expected invalid-argument");
        };
        assert!(
            message.contains(expected),
            "create({name:?}, {options:?}): {message:?} should mention {expected:?}"
        );
    }
    for name in ["../x", "a/b", ""] {
        let err = local.get(name).await.unwrap_err();
        assert!(
            matches!(err, CallError::Backend(BackendError::InvalidArgument(_))),
            "get({name:?}): {err:?}"
        );
    }
    assert!(
        images(dir.path()).is_empty(),
        "nothing created: {:?}",
        images(dir.path())
    );
    assert!(local.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_image_placed_in_the_directory_is_adopted_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let host = local(dir.path()).await;
    let local = host.backend(None).unwrap();
    let image = dir.path().join("backends/local/images/imported.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(48 * MIB)
        .unwrap();
    let volume = local.create("imported", &[]).await.unwrap();
    assert_eq!(volume.size_bytes, 48 * MIB);
    assert_eq!(
        std::fs::metadata(&image).unwrap().len(),
        48 * MIB,
        "adopting never touches the image"
    );
}

#[tokio::test]
async fn state_survives_a_host_restart() {
    let dir = tempfile::tempdir().unwrap();
    local(dir.path())
        .await
        .backend(None)
        .unwrap()
        .create("keep", &opts(&[("size", "32MiB")]))
        .await
        .unwrap();
    let restarted = local(dir.path()).await;
    let kept = restarted
        .backend(None)
        .unwrap()
        .get("keep")
        .await
        .unwrap()
        .expect("kept across restart");
    assert_eq!(kept.size_bytes, 32 * MIB);
}
