//! The sealed-secrets controller's side of sealing, run from `go/sealed_secrets.go` built with
//! Debian's Go, so tests open what the orchestrator sealed the way the cluster's controller
//! would, with another implementation.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A controller key pair in a directory, and the program that unseals with it.
pub struct Controller {
    bin: PathBuf,
    dir: PathBuf,
}

fn go_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("go/sealed_secrets.go")
}

impl Controller {
    /// Builds the program into `dir` and makes a `bits`-bit key and its certificate there.
    pub fn new(dir: &Path, bits: u32) -> Self {
        let bin = dir.join("sealed-secrets-controller");
        let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/go-cache");
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&bin)
            .arg(go_source())
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("GOCACHE", &cache)
            .env("GOPATH", dir.join("gopath"))
            .output()
            .expect("Debian's golang-go is installed (cargo xtask ci installs it)");
        assert!(out.status.success(), "go build failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let out = Command::new(&bin).arg("keygen").arg(dir).arg(bits.to_string()).output().expect("the program runs");
        assert!(out.status.success(), "keygen failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Self { bin, dir: dir.to_owned() }
    }

    /// The certificate (`tls.crt`), as `kubeseal --fetch-cert` would print it.
    pub fn certificate(&self) -> PathBuf {
        self.dir.join("tls.crt")
    }

    /// The Secret (`{name, namespace, type, data}`, data base64) the controller makes from
    /// `sealed`, a SealedSecret; the error names the key it could not unseal.
    pub fn unseal(&self, sealed: &Value) -> Result<Value, String> {
        let mut child = Command::new(&self.bin)
            .arg("unseal")
            .arg(self.dir.join("tls.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program runs");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(&serde_json::to_vec(sealed).expect("JSON values serialize"))
            .expect("the program reads its input");
        let out = child.wait_with_output().expect("the program runs");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).expect("the program prints JSON"))
    }
}
