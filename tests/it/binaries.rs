//! The binaries under test, built as `cargo build` builds them into this checkout's target
//! directory, once per test run, and found there.
//!
//! Under `cargo nextest` (what `cargo xtask ci` runs) the first test to ask builds them, under
//! a lock, and every other test process of the run finds them built. Under plain `cargo test`,
//! which holds the build directory while tests run, they are not built here: `cargo build
//! --bins` first. Debug builds read `ORCHESTRATOR_FAULT` (see `orchestrator_app::fault`), which
//! the crash tests use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `target/<profile>/orchestrator`.
pub fn orchestrator() -> PathBuf {
    built().join("orchestrator")
}

/// `target/<profile>/orchestrator-api`.
pub fn orchestrator_api() -> PathBuf {
    built().join("orchestrator-api")
}

/// The directory the binaries are in, after building them if this run has not yet.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test executable is `<target>/<profile>/deps/it-<hash>`.
        let exe = std::env::current_exe().expect("the test knows where it runs from");
        let profile_dir =
            exe.parent().and_then(Path::parent).expect("tests run from <target>/<profile>/deps").to_owned();
        let Ok(run) = std::env::var("NEXTEST_RUN_ID") else {
            assert!(
                profile_dir.join("orchestrator").is_file() && profile_dir.join("orchestrator-api").is_file(),
                "the binaries are not built: run `cargo build --bins` first, or the tests with `cargo nextest run`"
            );
            return profile_dir;
        };
        let lock =
            std::fs::File::create(profile_dir.join("e2e-binaries.lock")).expect("the target directory is writable");
        lock.lock().expect("the build lock can be taken");
        let stamp = profile_dir.join(format!("e2e-binaries-{run}.built"));
        if !stamp.exists() {
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => "dev".to_owned(),
                Some(other) => other.to_owned(),
                None => panic!("no profile in {}", profile_dir.display()),
            };
            let target = profile_dir.parent().expect("<target>/<profile>");
            let status = Command::new(env!("CARGO"))
                .args(["build", "--locked", "--bins", "-p", "orchestrator-cli", "-p", "orchestrator-api", "--profile"])
                .arg(&profile)
                .arg("--target-dir")
                .arg(target)
                .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "cannot build the binaries under test");
            // Stamps of earlier runs are of no use any more.
            if let Ok(entries) = std::fs::read_dir(&profile_dir) {
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    if name.to_string_lossy().starts_with("e2e-binaries-") && name.to_string_lossy().ends_with(".built")
                    {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
            std::fs::write(&stamp, b"").expect("the target directory is writable");
        }
        profile_dir
    })
}
