//! The EBS managed plugin under Swarm, as Cloudstor was used: the plugin
//! is `ballast/ebs` (acting as instance i-a of tests/cloudsim), a stack is
//! deployed from a compose file whose volume has `driver: ballast/ebs` and
//! `driver_opts`; its task writes, `docker service update --force`
//! replaces the task with a new container, and the data is still there.

use std::time::Duration;

use ballast_tests::cloud::SimCloud;
use ballast_tests::docker::{Docker, wait_until};
use ballast_tests::managed_plugin::{
    Installed, build, ebs_settings, remove_leftover_plugins, state_dir,
};

const PLUGIN: &str = "ballast/ebs";

/// `docker stack rm` and the wait for its containers, on drop.
struct Stack<'a> {
    docker: &'a Docker,
    name: String,
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        let _ = self.docker.run(&["stack", "rm", &self.name]);
        let label = format!("label=com.docker.stack.namespace={}", self.name);
        let gone = wait_until(Duration::from_secs(120), || {
            self.docker
                .run(&["ps", "-aq", "--filter", &label])
                .stdout
                .trim()
                .is_empty()
        });
        if !gone {
            eprintln!("cleanup: containers of stack {} still exist", self.name);
        }
    }
}

#[test]
fn stack_with_a_ballast_ebs_volume_keeps_its_data_across_a_forced_update() {
    let Some(docker) = Docker::ensure() else {
        return;
    };
    remove_leftover_plugins(&docker);
    let state = state_dir();
    let sim_dir = state.path().join("sim");
    let Some(cloud) = SimCloud::start("swarm stack", |c| c.data_dir = sim_dir) else {
        return;
    };
    let out = tempfile::Builder::new()
        .prefix("ballast-plugin-build-")
        .tempdir()
        .unwrap();
    let dir = build("ebs", out.path());
    let settings = ebs_settings(&cloud, state.path(), "i-a", "stack");
    let plugin = Installed::create(&docker, &dir, PLUGIN, &settings);
    docker.swarm_init();

    let stack = format!("e2e{}", std::process::id());
    let volume = format!("{stack}_data");
    plugin.volumes.borrow_mut().push(volume.clone());
    let compose = out.path().join("stack.yml");
    std::fs::write(
        &compose,
        format!(
            r#"version: "3.8"
services:
  db:
    image: {image}
    command: ["sh", "-c", "test -f /data/first || {{ echo first > /data/first; sync; }}; exec sleep 3600"]
    stop_grace_period: 1s
    volumes:
      - data:/data
volumes:
  data:
    driver: {PLUGIN}
    driver_opts:
      size: "1"
      volumetype: gp3
"#,
            image = docker.busybox_image()
        ),
    )
    .unwrap();
    let _stack = Stack {
        docker: &docker,
        name: stack.clone(),
    };
    docker.ok(&[
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        compose.to_str().unwrap(),
        &stack,
    ]);
    let service = format!("{stack}_db");
    let first = docker.running_task(&service, "");
    let written = wait_until(Duration::from_secs(60), || {
        docker
            .run(&["exec", &first, "cat", "/data/first"])
            .stdout
            .trim()
            == "first"
    });
    assert!(written, "the first task wrote /data/first");
    docker.ok(&[
        "exec",
        &first,
        "sh",
        "-c",
        "echo second > /data/update && sync",
    ]);
    let status = docker.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Driver}} {{.Options.size}} {{.Status.volumetype}} {{.Status.fstype}}",
        &volume,
    ]);
    assert_eq!(
        status, "ballast/ebs:latest 1 gp3 xfs",
        "the stack's volume: driver, driver_opts and the plugin's REXRAY_FSTYPE"
    );

    docker.ok(&["service", "update", "--force", "--detach", &service]);
    let second = docker.running_task(&service, &first);
    assert_ne!(second, first, "the update replaced the task's container");
    let read = docker.ok(&["exec", &second, "cat", "/data/first", "/data/update"]);
    assert_eq!(
        read, "first\nsecond",
        "the new task finds what the old one wrote"
    );
    assert_eq!(
        cloud.volumes_named(&volume).len(),
        1,
        "one EBS volume backs the stack's volume"
    );
}
