//! External tools the deployment checks and the end-to-end test run (promtool, amtool, hadolint,
//! docker-compose, kubernetes-validate, node, prometheus, python). A missing tool is a test
//! failure that says how to install it, never a skip: CI installs everything (.ci/install.sh).

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, by its path from the root.
pub fn repo_file(path: &str) -> PathBuf {
    repo().join(path)
}

/// Reads a file of the repository.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Finds `name` on PATH or in the CI tool venv (`target/ci-tools/venv/bin`, where .ci/install.sh
/// puts the PyPI tools); panics naming the install step when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let venv = repo().join("target/ci-tools/venv/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::iter::once(venv))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed (not on PATH nor in target/ci-tools/venv/bin): run .ci/install.sh")
        })
}

/// The venv's Python (with the PyPI packages .ci/install.sh installs).
pub fn python() -> PathBuf {
    let venv = repo().join("target/ci-tools/venv/bin/python");
    assert!(venv.is_file(), "{} is missing: run .ci/install.sh", venv.display());
    venv
}

/// Runs `program args…` in the repository root and returns its output, whatever the exit code.
pub fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.to_string_lossy()))
}

/// Like [`run`], and panics with both output streams unless it exits 0. Returns stdout.
pub fn run_ok<I, S>(program: impl AsRef<OsStr>, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = run(&program, &args);
    assert!(
        out.status.success(),
        "{} {:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        program.as_ref().to_string_lossy(),
        args,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stdout and stderr of an output, together.
pub fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
