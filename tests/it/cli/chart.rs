//! `orchestrator chart publish`: the packaged base chart and Helm's index in the chart
//! repository, read back with the git CLI.

use crate::cli::support::{Env, copy_dir, git, log};
use std::path::Path;

#[test]
fn publishing_adds_the_archive_and_keeps_the_index_honest() {
    let env = Env::new();
    let chart = env.dir.path().join("ms-base-chart");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/charts/ms-base-chart"), &chart);
    let dir = chart.to_str().unwrap();

    let first = env.json(&["chart", "publish", dir]);
    assert_eq!(first["published"], true, "{first}");
    assert_eq!(first["file"], "ms-base-chart-0.1.0.tgz");
    // By default the index points at the chart repository the API serves.
    assert_eq!(first["url"], "http://127.0.0.1:8080/charts/ms-base-chart-0.1.0.tgz");
    let bare = env.bare("ms-charts");
    assert_eq!(log(&bare, "main"), ["Publish chart ms-base-chart 0.1.0"]);
    let index = git(&bare, &["show", "main:index.yaml"]);
    let digest = first["digest"].as_str().unwrap();
    assert!(index.contains(&format!("digest: {digest}")), "{index}");
    // The digest is the archive's, as git holds it.
    let archive = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("git -C '{}' show main:ms-base-chart-0.1.0.tgz | sha256sum", bare.display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&archive.stdout).starts_with(digest));

    // The same chart again: nothing committed.
    let again = env.json(&["chart", "publish", dir]);
    assert_eq!(again["published"], false);
    assert_eq!(log(&bare, "main").len(), 1);

    // Changed files under a published version: refused, nothing committed.
    let values = chart.join("values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, format!("{text}\n# changed\n")).unwrap();
    let (code, _, stderr) = env.run(&["chart", "publish", dir]);
    assert_eq!(code, 4, "a conflict with what is published: {stderr}");
    assert!(stderr.contains("0.1.0"), "{stderr}");
    assert_eq!(log(&bare, "main").len(), 1);

    // A new version is added next to the old one.
    let manifest = chart.join("Chart.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("version: 0.1.0", "version: 0.2.0");
    std::fs::write(&manifest, text).unwrap();
    let second = env.json(&["chart", "publish", dir]);
    assert_eq!(second["version"], "0.2.0");
    let index = git(&bare, &["show", "main:index.yaml"]);
    let v2 = index.find("ms-base-chart-0.2.0.tgz").unwrap();
    let v1 = index.find("ms-base-chart-0.1.0.tgz").unwrap();
    assert!(v2 < v1, "newest first: {index}");
    let files = git(&bare, &["ls-tree", "--name-only", "main"]);
    assert_eq!(files.lines().collect::<Vec<_>>(), ["index.yaml", "ms-base-chart-0.1.0.tgz", "ms-base-chart-0.2.0.tgz"]);
}
