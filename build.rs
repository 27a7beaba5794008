//! Stamps the git revision into the binary for `claudewatch_build_info{revision}`.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CLAUDEWATCH_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let revision = std::env::var("CLAUDEWATCH_REVISION").ok().filter(|r| !r.is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    println!("cargo:rustc-env=CLAUDEWATCH_REVISION={}", revision.unwrap_or_else(|| "unknown".into()));
}
