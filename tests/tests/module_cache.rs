//! Compiled modules are cached on disk: a restarted host loads the artifact
//! instead of compiling, and a damaged artifact is recompiled, not trusted.

use ballast::runtime::cache::CacheOutcome;
use ballast_tests::host;

#[tokio::test]
async fn restart_loads_the_cached_artifact_and_a_damaged_one_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let first = host(dir.path(), "").await.unwrap();
    assert_eq!(
        first.backend(None).unwrap().cache_outcome(),
        CacheOutcome::Compiled
    );
    drop(first);

    let second = host(dir.path(), "").await.unwrap();
    assert_eq!(
        second.backend(None).unwrap().cache_outcome(),
        CacheOutcome::Hit
    );
    drop(second);

    let cache = dir.path().join("cache");
    let artifacts: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    std::fs::write(&artifacts[0], b"not a compiled module").unwrap();

    let third = host(dir.path(), "").await.unwrap();
    let local = third.backend(None).unwrap();
    assert_eq!(local.cache_outcome(), CacheOutcome::Compiled);
    local
        .create("works", &[])
        .await
        .expect("the recompiled module serves");
}
