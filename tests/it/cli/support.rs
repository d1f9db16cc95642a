//! Running the binary and the `git` CLI in throwaway data directories.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(crate::binaries::orchestrator());
        cmd.env("ORCHESTRATOR_HOME", self.home())
            .env_remove("ORCHESTRATOR_BLUEPRINTS")
            .env_remove("ORCHESTRATOR_FAULT")
            .env_remove("ORCHESTRATOR_LOG")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs the binary; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        decode(out)
    }

    /// Runs the binary, expecting success, and parses its JSON output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let (code, stdout, stderr) = self.run(&all);
        assert_eq!(code, 0, "{args:?} failed:\n{stderr}\n{stdout}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    pub fn bare(&self, repo: &str) -> PathBuf {
        self.home().join("git/platform").join(format!("{repo}.git"))
    }

    /// What the repository root holds besides its staging area, which must hold no
    /// half-made repository (only the creation locks, files).
    pub fn repos(&self) -> Vec<String> {
        let root = self.home().join("git/platform");
        let mut names: Vec<String> = std::fs::read_dir(&root)
            .map(|dir| dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.retain(|n| n != ".staging");
        names.sort();
        if let Ok(staging) = std::fs::read_dir(root.join(".staging")) {
            let orphans: Vec<_> = staging.map(|e| e.unwrap()).filter(|e| e.file_type().unwrap().is_dir()).collect();
            assert!(orphans.is_empty(), "half-made repositories left behind: {orphans:?}");
        }
        names
    }

    /// Clones a repository with the git CLI into a fresh directory.
    pub fn clone(&self, repo: &str) -> PathBuf {
        let target = self.dir.path().join("clones").join(repo);
        git(self.dir.path(), &["clone", "--quiet", self.bare(repo).to_str().unwrap(), target.to_str().unwrap()]);
        target
    }
}

pub fn decode(out: Output) -> (i32, String, String) {
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// Runs `git` in `dir`, expecting success; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Subjects of a branch's commits, newest first, as the git CLI sees them.
pub fn log(bare: &Path, branch: &str) -> Vec<String> {
    git(bare, &["log", "--format=%s", branch]).lines().map(str::to_owned).collect()
}

pub fn fsck(bare: &Path) {
    git(bare, &["fsck", "--strict", "--no-dangling"]);
}

/// Starts `cmd` frozen at fault point `point` (`ORCHESTRATOR_FAULT`), waits for the process to
/// say it got there, and kills it with SIGKILL.
pub fn kill_at(mut cmd: Command, point: &str) {
    let mut child = cmd.env("ORCHESTRATOR_FAULT", point).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("fault-hook: reached") {
            child.kill().unwrap(); // SIGKILL on unix
            child.wait().unwrap();
            return;
        }
    }
    panic!("the process ended without reaching {point}: {:?}\n{seen}", child.wait().unwrap());
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
