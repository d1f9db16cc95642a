//! The real Helm v4 engine for tests: `helm_driver.py` beside this crate, run by helm-python-sdk
//! (Helm as a C library, from PyPI) in the Python at `$ORCHESTRATOR_TEST_PYTHON`, else
//! `target/tools/venv/bin/python`, else `python3` on PATH. Without it a test fails with what to
//! do, never skips: `cargo xtask ci` installs it.

use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared base chart in the workspace (`templates/charts/ms-base-chart`), its name and
/// version as the configuration's defaults name them.
pub const CHART_NAME: &str = "ms-base-chart";
pub const CHART_VERSION: &str = "0.1.0";

pub fn chart_dir() -> PathBuf {
    crate::workspace_root().join("templates/charts").join(CHART_NAME)
}

/// helm-python-sdk behind `helm_driver.py`: each call is one Python process answering JSON.
pub struct Helm {
    python: PathBuf,
    driver: PathBuf,
}

/// The Python with helm-python-sdk, checked: a missing one fails the test with what to do.
pub fn helm() -> Helm {
    let venv = crate::workspace_root().join("target/tools/venv/bin/python");
    let python = std::env::var_os("ORCHESTRATOR_TEST_PYTHON")
        .map(PathBuf::from)
        .or_else(|| venv.is_file().then_some(venv))
        .or_else(|| {
            std::env::var_os("PATH")
                .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("python3")).find(|p| p.is_file()))
        })
        .unwrap_or_else(|| {
            panic!(
                "no Python for the Helm tests (looked at $ORCHESTRATOR_TEST_PYTHON, target/tools/venv and PATH): \
                 run `cargo xtask ci`, which installs helm-python-sdk into target/tools/venv"
            )
        });
    let helm = Helm { python, driver: Path::new(env!("CARGO_MANIFEST_DIR")).join("helm_driver.py") };
    let out = helm.command(["version"]).output().unwrap_or_else(|e| {
        panic!(
            "cannot run the Helm tests' Python {}: {e}: run `cargo xtask ci`, which installs it",
            helm.python.display()
        )
    });
    assert!(
        out.status.success(),
        "helm-python-sdk is missing from {}: run `cargo xtask ci` (it installs it into target/tools/venv), \
         or `pip install helm-python-sdk` there and set ORCHESTRATOR_TEST_PYTHON\n{}",
        helm.python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    helm
}

impl Helm {
    pub fn command<I: IntoIterator<Item = S>, S: Into<OsString>>(&self, args: I) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.driver).args(args.into_iter().map(Into::into));
        cmd
    }

    pub fn call(&self, args: Vec<OsString>) -> Value {
        let out = self.command(args.clone()).output().expect("the Python found by helm() runs");
        assert!(
            out.status.success(),
            "helm_driver.py {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("helm_driver.py {args:?} printed no JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout))
        })
    }

    /// `helm lint --strict -f …`: the report, with `ok` false on any warning or error.
    pub fn lint(&self, chart: &Path, values: &[PathBuf]) -> Value {
        let mut args: Vec<OsString> = vec!["lint".into(), chart.into()];
        for v in values {
            args.extend(["-f".into(), v.into()]);
        }
        self.call(args)
    }

    /// `helm template <name> -n <namespace> -f …`: the objects, or Helm's error.
    pub fn render(&self, chart: &Path, name: &str, namespace: &str, values: &[PathBuf]) -> Result<Vec<Value>, String> {
        let mut args: Vec<OsString> =
            vec!["render".into(), chart.into(), "--name".into(), name.into(), "--namespace".into(), namespace.into()];
        for v in values {
            args.extend(["-f".into(), v.into()]);
        }
        let answer = self.call(args);
        if answer["ok"] == true {
            Ok(answer["objects"]
                .as_array()
                .expect("the driver lists the objects")
                .iter()
                .map(|o| o["object"].clone())
                .collect())
        } else {
            Err(answer["error"]["message"].as_str().expect("the driver names the error").to_owned())
        }
    }

    /// A chart directory holding `files` (path, content), with the base chart packaged where
    /// `helm dependency build` puts it (`charts/<name>-<version>.tgz`): an infra repository
    /// ready for `helm lint` and `helm template`.
    pub fn umbrella<'a>(&self, files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory can be made");
        for (path, content) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().expect("a file has a directory")).expect("writable");
            std::fs::write(file, content).expect("writable");
        }
        let charts = dir.path().join("charts");
        std::fs::create_dir_all(&charts).expect("writable");
        let package = self.package(&chart_dir(), &charts);
        let archive = package["archive"].as_str().map(PathBuf::from);
        assert_eq!(archive, Some(charts.join(format!("{CHART_NAME}-{CHART_VERSION}.tgz"))), "{package:#}");
        dir
    }

    pub fn package(&self, chart: &Path, dest: &Path) -> Value {
        let answer = self.call(vec!["package".into(), chart.into(), dest.into()]);
        assert_eq!(answer["ok"], true, "{answer:#}");
        answer
    }

    /// Helm's loader on an archive: metadata, templates, files, and the archive's digest.
    pub fn inspect(&self, archive: &Path) -> Value {
        let answer = self.call(vec!["inspect".into(), archive.into()]);
        assert_eq!(answer["ok"], true, "Helm cannot load {}: {answer:#}", archive.display());
        answer
    }

    /// `helm repo index DIR --url URL [--merge INDEX]`: the index Helm writes.
    pub fn index(&self, dir: &Path, url: &str, merge: Option<&Path>) -> Value {
        let mut args: Vec<OsString> = vec!["index".into(), dir.into(), "--url".into(), url.into()];
        if let Some(merge) = merge {
            args.extend(["--merge".into(), merge.into()]);
        }
        let answer = self.call(args);
        assert_eq!(answer["ok"], true, "{answer:#}");
        answer["index"].clone()
    }
}

/// Credentials for a chart repository, sent as HTTP Basic (what `helm repo add --username
/// --password` stores).
#[derive(Debug, Clone, Copy)]
pub struct Basic<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

fn credentials(args: &mut Vec<OsString>, basic: Option<Basic<'_>>) {
    if let Some(Basic { username, password }) = basic {
        args.extend(["--username".into(), username.into(), "--password".into(), password.into()]);
    }
}

impl Helm {
    /// Helm's fetch of `<url>/index.yaml` (as `helm repo add` does): the parsed index, or
    /// Helm's error.
    pub fn repo_index(&self, url: &str, basic: Option<Basic<'_>>) -> Result<Value, String> {
        let mut args: Vec<OsString> = vec!["repo-index".into(), url.into()];
        credentials(&mut args, basic);
        answer(self.call(args), "index")
    }

    /// `helm pull CHART --repo URL --version V -d DEST`: the archive's path and its digest, or
    /// Helm's error.
    pub fn pull(
        &self,
        chart: &str,
        repo: &str,
        version: &str,
        dest: &Path,
        basic: Option<Basic<'_>>,
    ) -> Result<(PathBuf, String), String> {
        let mut args: Vec<OsString> = vec![
            "pull".into(),
            chart.into(),
            "--repo".into(),
            repo.into(),
            "--version".into(),
            version.into(),
            "--dest".into(),
            dest.into(),
        ];
        credentials(&mut args, basic);
        let answer = self.call(args);
        if answer["ok"] != true {
            return Err(answer["error"]["message"].as_str().unwrap_or("no message").to_owned());
        }
        let archive = PathBuf::from(answer["archive"].as_str().expect("the driver names the archive"));
        let digest =
            answer["digest"].as_str().unwrap_or_else(|| panic!("Helm wrote no {}: {answer:#}", archive.display()));
        Ok((archive.clone(), digest.to_owned()))
    }

    /// `helm dependency update CHART_DIR`: the archives then in `charts/`, or Helm's error.
    pub fn dependency_update(&self, chart_dir: &Path) -> Result<Vec<String>, String> {
        let answer = answer(self.call(vec!["dependency-update".into(), chart_dir.into()]), "archives")?;
        Ok(answer
            .as_array()
            .expect("the driver lists the archives")
            .iter()
            .map(|a| a.as_str().expect("a file name").to_owned())
            .collect())
    }
}

/// The member `key` of a driver's answer, or its error's message.
fn answer(answer: Value, key: &str) -> Result<Value, String> {
    if answer["ok"] == true {
        Ok(answer[key].clone())
    } else {
        Err(answer["error"]["message"].as_str().unwrap_or("no message").to_owned())
    }
}

impl Default for Values {
    fn default() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory can be made") }
    }
}

/// Writes values files (JSON is YAML) into a temporary directory.
pub struct Values {
    dir: tempfile::TempDir,
}

impl Values {
    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn new() -> Self {
        Self::default()
    }

    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("the temporary directory takes files");
        path
    }

    pub fn json(&self, name: &str, value: &Value) -> PathBuf {
        self.file(name, serde_json::to_vec_pretty(value).expect("JSON values serialize"))
    }
}

pub fn all_of<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

pub fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    match all_of(objects, kind).as_slice() {
        [o] => o,
        other => panic!("expected one {kind}, found {}: {objects:#?}", other.len()),
    }
}
