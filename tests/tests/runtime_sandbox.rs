//! The runtime keeps misbehaving guests in their box: an endless loop, a
//! memory bomb, a panic, a trap and a guest that blocks forever each fail
//! their own call with a message saying why, and the next call on the same
//! host works. Modules are refused at load for an ungranted capability or
//! an incompatible WIT version.

use ballast::runtime::CallError;
use ballast::runtime::bindings::BackendError;
use ballast_tests::{host, load_error, module};

fn misbehave_config(capabilities: &str) -> String {
    format!(
        r#"
        [runtime]
        memory_limit_mib = 32
        cpu_limit_ms = 300
        call_timeout_secs = 3
        [backends.bad]
        module = {module:?}
        capabilities = [{capabilities}]
        "#,
        module = module("ballast_test_misbehave").display().to_string()
    )
}

async fn misbehaving_host(dir: &std::path::Path) -> ballast::host::Host {
    host(dir, &misbehave_config(r#""log", "kv""#))
        .await
        .expect("misbehave module loads")
}

/// After a failed call, an ordinary call on the same host still works.
async fn still_serves(host: &ballast::host::Host, name: &str) {
    let backend = host.backend(Some("bad")).unwrap();
    let volume = backend
        .create(name, &[])
        .await
        .expect("a normal call after a failure");
    assert_eq!(volume.name, name);
    assert_eq!(
        backend.get(name).await.unwrap().map(|v| v.name),
        Some(name.to_string())
    );
}

/// `create(trigger)` makes the guest misbehave: the call fails the way
/// `expected` says, with `text` in its message, and the host then still serves.
async fn fails_then_recovers(trigger: &str, expected: fn(&CallError) -> bool, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let host = misbehaving_host(dir.path()).await;
    let err = host
        .backend(Some("bad"))
        .unwrap()
        .create(trigger, &[])
        .await
        .unwrap_err();
    assert!(expected(&err), "{trigger}: {err:?}");
    assert!(err.to_string().contains(text), "{trigger}: {err}");
    still_serves(&host, &format!("after-{trigger}")).await;
}

#[tokio::test]
async fn endless_loop_is_stopped_by_the_cpu_budget() {
    fails_then_recovers(
        "loop",
        |e| matches!(e, CallError::Cpu { .. }),
        "CPU budget of 300 ms",
    )
    .await;
}

#[tokio::test]
async fn memory_bomb_is_stopped_by_the_memory_cap() {
    fails_then_recovers(
        "bomb",
        |e| matches!(e, CallError::Memory { .. }),
        "over the limit of 32 MiB",
    )
    .await;
}

#[tokio::test]
async fn panic_is_reported_with_its_message() {
    fails_then_recovers(
        "panic",
        |e| matches!(e, CallError::Crashed { .. }),
        "deliberate panic in create",
    )
    .await;
}

#[tokio::test]
async fn trap_is_reported() {
    fails_then_recovers(
        "trap",
        |e| matches!(e, CallError::Crashed { .. }),
        "unreachable",
    )
    .await;
}

#[tokio::test]
async fn guest_blocked_in_a_host_call_is_stopped_by_the_wall_clock() {
    fails_then_recovers(
        "sleep",
        |e| matches!(e, CallError::Timeout { secs: 3, .. }),
        "no answer within 3 s",
    )
    .await;
}

#[tokio::test]
async fn backend_errors_pass_through_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let host = misbehaving_host(dir.path()).await;
    let err = host
        .backend(Some("bad"))
        .unwrap()
        .resize("x", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Backend(BackendError::InvalidArgument(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn ungranted_capability_is_refused_at_load_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_error(dir.path(), &misbehave_config(r#""log""#)).await;
    assert!(
        err.contains("imports capability `kv`, which is not granted (granted: log)"),
        "{err}"
    );
}

#[tokio::test]
async fn incompatible_wit_major_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[backends.old]\nmodule = {:?}\ncapabilities = []\n",
        module("ballast_test_wrong_version").display().to_string()
    );
    let err = load_error(dir.path(), &config).await;
    assert!(
        err.contains("ballast:backend@1.0.0")
            && err.contains(&format!(
                "ballast:backend@{}",
                ballast::runtime::bindings::WIT_VERSION
            )),
        "{err}"
    );
}

#[tokio::test]
async fn missing_and_garbage_modules_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_error(
        dir.path(),
        "[backends.x]\nmodule = \"/nonexistent/x.wasm\"\n",
    )
    .await;
    assert!(err.contains("reading module /nonexistent/x.wasm"), "{err}");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0").unwrap();
    let err = load_error(
        dir.path(),
        &format!("[backends.x]\nmodule = {:?}\n", junk.display().to_string()),
    )
    .await;
    assert!(
        err.contains("core WebAssembly module, not a component"),
        "{err}"
    );
}

/// The versioning promise: a module built against the released 0.1.0
/// contract loads on this 0.1.x host and its calls (and its capability
/// imports) work.
#[tokio::test]
async fn a_module_built_against_0_1_0_loads_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[backends.old]\nmodule = {:?}\ncapabilities = [\"kv\"]\n",
        module("ballast_test_v0_1_0").display().to_string()
    );
    let host = host(dir.path(), &config)
        .await
        .expect("a 0.1.0 module loads");
    let backend = host.backend(Some("old")).unwrap();
    assert_eq!(backend.info().name, "v0-1-0");
    backend.create("kept", &[]).await.unwrap();
    let got = backend.get("kept").await.unwrap().expect("kept in kv");
    assert_eq!(
        got.status,
        vec![("built-against".to_string(), "0.1.0".to_string())]
    );
    assert!(backend.get("other").await.unwrap().is_none());
}
