//! moto (`moto_server`) as a second opinion for tests: started on a free
//! port, stopped (by PID) when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `moto_server` on a free port, stopped (by PID) when dropped.
pub struct Moto {
    /// Where it listens, e.g. `http://127.0.0.1:5000`.
    pub url: String,
    child: Child,
}

impl Moto {
    /// Start moto, installing it with pip if needed; `None` (with the
    /// reason printed) only when it cannot be installed.
    pub fn start(test: &str) -> Option<Moto> {
        if Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            let installed = Command::new("pip")
                .args(["install", "-q", "moto[server]"])
                .status();
            if !installed.is_ok_and(|s| s.success()) {
                eprintln!(
                    "SKIPPED {test}: moto_server is not installed and `pip install 'moto[server]'` failed"
                );
                return None;
            }
        }
        Some(Moto::spawn())
    }

    /// Start moto if it is installed; `None` (reason printed) when it is
    /// not, unless BALLAST_E2E_REQUIRED=1 makes that a failure.
    pub fn start_if_installed(test: &str) -> Option<Moto> {
        let installed = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("BALLAST_E2E_REQUIRED").as_deref() != Ok("1"),
                "{test}: moto_server is not installed and BALLAST_E2E_REQUIRED=1"
            );
            eprintln!("SKIPPED {test}: moto_server is not installed (pip install 'moto[server]')");
            return None;
        }
        Some(Moto::spawn())
    }

    /// Run the installed `moto_server` on a free port and wait (up to 30 s)
    /// until it listens.
    fn spawn() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server");
        // Built before the wait so that a failed wait still stops it.
        let moto = Moto {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
