//! Running the external storage programs (blkid, mkfs.*, losetup, resize2fs,
//! xfs_growfs). Owns how they are found (PATH, then the sbin directories a
//! plugin container's PATH often lacks), their environment (C locale, so
//! output parses the same everywhere, no stdin, so nothing can prompt) and
//! how a failure is reported (tool, arguments, exit status, stderr).
//!
//! Never: run a program through a shell, or decide what an exit code means
//! for the data (callers do that; see `probe`).

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::{Result, StorageError};

/// The programs this layer runs, for `ballast doctor`.
pub const TOOLS: &[&str] = &[
    "blkid",
    "losetup",
    "mkfs.ext4",
    "mkfs.xfs",
    "resize2fs",
    "e2fsck",
    "dumpe2fs",
    "xfs_growfs",
];

/// Directories searched after PATH: a Docker plugin's rootfs may not put
/// the sbin directories on PATH.
const FALLBACK_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// Where each storage program was found (None when missing).
pub fn check_tools() -> Vec<(&'static str, Option<PathBuf>)> {
    TOOLS.iter().map(|tool| (*tool, locate(tool))).collect()
}

fn locate(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain(FALLBACK_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Run `tool` and return its output whatever the exit status.
pub fn output<S: AsRef<OsStr>>(tool: &'static str, args: &[S]) -> Result<Output> {
    let program = locate(tool).unwrap_or_else(|| PathBuf::from(tool));
    Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| StorageError::ToolMissing { tool, source })
}

/// Run `tool`; a non-zero exit is an error carrying its stderr. Returns stdout.
pub fn run<S: AsRef<OsStr>>(tool: &'static str, args: &[S]) -> Result<String> {
    let out = output(tool, args)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(tool, args, &out))
    }
}

/// The error for a run of `tool` that did not do what the caller expected.
pub fn failed<S: AsRef<OsStr>>(tool: &'static str, args: &[S], out: &Output) -> StorageError {
    let args = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    StorageError::ToolFailed {
        tool,
        args,
        status: out.status.to_string(),
        stderr: if stderr.is_empty() {
            "(no error output)".into()
        } else {
            stderr
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_tools_are_found_or_reported_missing() {
        let found = check_tools();
        assert_eq!(found.len(), TOOLS.len());
        // blkid ships with util-linux, present on every Debian machine.
        assert!(found.iter().any(|(t, p)| *t == "blkid" && p.is_some()));
    }

    #[test]
    fn failure_names_the_tool_arguments_and_stderr() {
        let err = run("blkid", &["-p", "--no-such-option"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("blkid -p --no-such-option failed"),
            "{text}"
        );
    }
}
