//! Packaging the base chart and indexing it, checked against the real Helm engine: Helm loads
//! our archive, computes the digest our index entry holds, renders what the directory renders,
//! ignores what `helm package` ignores, writes the entry we write and reads our `index.yaml`.

use crate::chart::everything_on;
use provision_core::{FileEntry, FileSet, RepoPath};
use provision_helm::{Added, Index, IndexError, Packaged, package, read_chart_dir};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use test_harness::helm::{CHART_NAME, CHART_VERSION, Values, chart_dir, helm};

const BASE_URL: &str = "https://charts.example.com/platform";

fn base_chart() -> FileSet {
    read_chart_dir(&chart_dir()).unwrap()
}

fn with_file(mut files: FileSet, path: &str, content: &str) -> FileSet {
    files.insert(RepoPath::parse(path).unwrap(), FileEntry::new(content.as_bytes().to_vec()));
    files
}

/// The base chart at another version (and so another archive).
fn at_version(version: &str) -> FileSet {
    let files = base_chart();
    let chart = std::str::from_utf8(&files.get("Chart.yaml").unwrap().content).unwrap().to_owned();
    let bumped = chart.replace(&format!("\nversion: {CHART_VERSION}\n"), &format!("\nversion: {version}\n"));
    assert_ne!(bumped, chart);
    with_file(files, "Chart.yaml", &bumped)
}

fn time(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

/// One archive entry: path, mode, uid, gid, mtime, type and content.
#[derive(Debug, PartialEq)]
struct Entry {
    path: String,
    mode: u32,
    owner: (u64, u64),
    mtime: u64,
    regular: bool,
    content: Vec<u8>,
}

fn entries(archive: &[u8]) -> Vec<Entry> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    tar.entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            let header = entry.header();
            Entry {
                path: entry.path().unwrap().to_str().unwrap().to_owned(),
                mode: header.mode().unwrap(),
                owner: (header.uid().unwrap(), header.gid().unwrap()),
                mtime: header.mtime().unwrap(),
                regular: header.entry_type().is_file(),
                content,
            }
        })
        .collect()
}

fn write(dir: &Path, packaged: &Packaged) -> PathBuf {
    let path = dir.join(&packaged.file_name);
    std::fs::write(&path, &packaged.bytes).unwrap();
    path
}

fn write_dir(dir: &Path, files: &FileSet) {
    for (path, entry) in files.iter() {
        let path = dir.join(path.as_str());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &entry.content).unwrap();
    }
}

#[test]
fn packaging_the_same_chart_twice_gives_the_same_bytes() {
    let first = package(&base_chart()).unwrap();
    let again = package(&base_chart()).unwrap();
    assert!(first.bytes == again.bytes, "two packagings of the same files differ");
    assert_eq!(first.digest_sha256, again.digest_sha256);
    assert_eq!(first.file_name, format!("{CHART_NAME}-{CHART_VERSION}.tgz"));
    assert!(first.digest_sha256.len() == 64 && first.digest_sha256.bytes().all(|b| b.is_ascii_hexdigit()));

    // A gzip header with no file name, comment or time.
    assert_eq!(&first.bytes[..2], b"\x1f\x8b");
    assert_eq!(first.bytes[3], 0, "gzip flags");
    assert_eq!(&first.bytes[4..8], [0; 4], "gzip mtime");

    // Helm's layout and order, every entry a plain 0644 file owned by root at time 0.
    let chart = base_chart();
    let entries = entries(&first.bytes);
    let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
    let mut templates: Vec<_> =
        chart.paths().filter(|p| p.as_str().starts_with("templates/")).map(|p| format!("{CHART_NAME}/{p}")).collect();
    templates.sort();
    let mut expected = vec![
        format!("{CHART_NAME}/Chart.yaml"),
        format!("{CHART_NAME}/values.yaml"),
        format!("{CHART_NAME}/values.schema.json"),
    ];
    expected.extend(templates);
    expected.push(format!("{CHART_NAME}/.helmignore"));
    assert_eq!(paths, expected);
    let listed: Vec<_> = first.files.iter().map(|p| format!("{CHART_NAME}/{p}")).collect();
    assert_eq!(listed, expected);
    for entry in &entries {
        assert_eq!((entry.mode, entry.owner, entry.mtime, entry.regular), (0o644, (0, 0), 0, true), "{}", entry.path);
        let path = entry.path.strip_prefix(&format!("{CHART_NAME}/")).unwrap();
        assert!(*entry.content == *chart.get(path).unwrap().content, "{path} changed in the archive");
    }
}

#[test]
fn helm_loads_the_archive_with_the_digest_of_its_index_entry_and_renders_it_as_the_directory() {
    let helm = helm();
    let packaged = package(&base_chart()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = write(dir.path(), &packaged);

    let mut index = Index::new(time("2026-01-02T03:04:05Z"));
    assert_eq!(index.add(&packaged, BASE_URL, time("2026-01-02T03:04:05Z")).unwrap(), Added::New);
    let entry = index.get(CHART_NAME, CHART_VERSION).unwrap();

    let loaded = helm.inspect(&archive);
    assert_eq!(loaded["digest"], format!("sha256:{}", entry.digest.as_deref().unwrap()));
    assert_eq!(loaded["schema"], true, "values.schema.json must ship in the package");
    assert_eq!(loaded["files"], json!([".helmignore"]));
    let templates: Vec<_> =
        base_chart().paths().map(|p| p.to_string()).filter(|p| p.starts_with("templates/")).collect();
    assert_eq!(loaded["templates"], json!(templates));

    // Helm's metadata is our entry's, less what only the index adds.
    let mut ours = serde_json::to_value(entry).unwrap();
    for key in ["urls", "created", "digest"] {
        ours.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(loaded["metadata"], ours);

    // The archive renders what the directory renders.
    let values = Values::new();
    let on = [values.json("on.json", &everything_on())];
    let from_archive = helm.render(&archive, "demo", "demo-qa", &on).unwrap();
    let from_dir = helm.render(&chart_dir(), "demo", "demo-qa", &on).unwrap();
    assert!(!from_dir.is_empty());
    assert_eq!(from_archive, from_dir);
}

#[test]
fn helm_indexes_the_archive_as_we_do_and_reads_our_index() {
    let helm = helm();
    let first = package(&base_chart()).unwrap();
    let second = package(&at_version("0.2.0")).unwrap();
    let third = package(&at_version("0.10.0")).unwrap();

    // `helm repo index` on our archive writes the entry we write, but for the time.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &first);
    let by_helm = helm.index(dir.path(), BASE_URL, None);
    let mut index = Index::new(time("2026-01-02T03:04:05Z"));
    index.add(&first, BASE_URL, time("2026-01-02T03:04:05Z")).unwrap();
    let mut theirs = by_helm["entries"][CHART_NAME][0].clone();
    let mut ours = serde_json::to_value(index.get(CHART_NAME, CHART_VERSION).unwrap()).unwrap();
    for entry in [&mut theirs, &mut ours] {
        entry.as_object_mut().unwrap().remove("created").unwrap();
    }
    assert_eq!(ours, theirs);

    // We read the index Helm wrote, and write it back as we read it.
    let written_by_helm = std::fs::read_to_string(dir.path().join("index.yaml")).unwrap();
    let parsed = Index::parse(&written_by_helm).unwrap();
    let entry = parsed.get(CHART_NAME, CHART_VERSION).unwrap();
    assert_eq!(entry.digest.as_deref(), Some(first.digest_sha256.as_str()));
    assert_eq!(Some(entry.created.as_ref().unwrap().as_str()), by_helm["entries"][CHART_NAME][0]["created"].as_str());
    assert_eq!(Index::parse(&parsed.to_yaml().unwrap()).unwrap(), parsed);

    // Helm reads our index (strictly: an unknown key would fail it) when it merges a new
    // archive into it, and keeps our entries and digests, newest first.
    index.add(&second, BASE_URL, time("2026-01-03T00:00:00Z")).unwrap();
    let ours = tempfile::tempdir().unwrap();
    let index_file = ours.path().join("index.yaml");
    std::fs::write(&index_file, index.to_yaml().unwrap()).unwrap();
    let incoming = tempfile::tempdir().unwrap();
    write(incoming.path(), &third);
    let merged = helm.index(incoming.path(), BASE_URL, Some(&index_file));
    let versions = merged["entries"][CHART_NAME].as_array().unwrap();
    let found: Vec<_> =
        versions.iter().map(|v| (v["version"].as_str().unwrap(), v["digest"].as_str().unwrap())).collect();
    assert_eq!(
        found,
        [
            ("0.10.0", third.digest_sha256.as_str()),
            ("0.2.0", second.digest_sha256.as_str()),
            ("0.1.0", first.digest_sha256.as_str()),
        ]
    );
    assert_eq!(versions[2]["created"], "2026-01-02T03:04:05Z");
    assert_eq!(versions[1]["urls"], json!([format!("{BASE_URL}/{CHART_NAME}-0.2.0.tgz")]));
}

#[test]
fn helmignore_leaves_out_what_helm_package_leaves_out() {
    let helm = helm();
    let mut files = base_chart();
    for (path, content) in [
        ("values.yaml.bak", "old: values\n"),
        (".idea/workspace.xml", "<project/>\n"),
        (".vscode/settings.json", "{}\n"),
        ("templates/.scratch.yaml", "kind: Nothing\n"),
        ("templates/deployment.yaml~", "editor backup\n"),
        ("docs/design.md.orig", "merge leftover\n"),
        ("README.md", "# ms-base-chart\n"),
        ("docs/usage.md", "Usage.\n"),
    ] {
        files = with_file(files, path, content);
    }
    let packaged = package(&files).unwrap();
    let ours: BTreeSet<_> = entries(&packaged.bytes).into_iter().map(|e| e.path).collect();
    for ignored in [
        "values.yaml.bak",
        ".idea/workspace.xml",
        ".vscode/settings.json",
        "templates/.scratch.yaml",
        "templates/deployment.yaml~",
        "docs/design.md.orig",
    ] {
        assert!(!ours.contains(&format!("{CHART_NAME}/{ignored}")), "{ignored} was packaged");
    }
    for kept in ["README.md", "docs/usage.md", ".helmignore", "templates/deployment.yaml"] {
        assert!(ours.contains(&format!("{CHART_NAME}/{kept}")), "{kept} was left out");
    }

    // `helm package` on the same files, on disk, packs the same paths.
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join(CHART_NAME);
    write_dir(&chart, &files);
    let dest = tempfile::tempdir().unwrap();
    let answer = helm.call(vec!["package".into(), chart.into(), dest.path().into()]);
    assert_eq!(answer["ok"], true, "{answer:#}");
    let by_helm = std::fs::read(answer["archive"].as_str().unwrap()).unwrap();
    let theirs: BTreeSet<_> = entries(&by_helm).into_iter().map(|e| e.path).collect();
    assert_eq!(ours, theirs);
}

#[test]
fn the_index_keeps_every_version_newest_first() {
    let (first, second, third) = (
        package(&base_chart()).unwrap(),
        package(&at_version("0.2.0")).unwrap(),
        package(&at_version("0.10.0")).unwrap(),
    );
    let mut index = Index::new(time("2026-01-01T00:00:00Z"));
    assert_eq!(index.add(&first, BASE_URL, time("2026-01-01T10:00:00Z")).unwrap(), Added::New);
    assert_eq!(index.add(&third, BASE_URL, time("2026-01-02T10:00:00Z")).unwrap(), Added::New);
    assert_eq!(index.add(&second, &format!("{BASE_URL}/"), time("2026-01-03T10:00:00Z")).unwrap(), Added::New);

    let versions: Vec<_> = index.entries[CHART_NAME].iter().map(|e| e.version.as_str()).collect();
    assert_eq!(versions, ["0.10.0", "0.2.0", "0.1.0"], "by SemVer, not as text");
    assert_eq!(index.generated.as_ref().unwrap().as_str(), "2026-01-03T10:00:00Z");
    let entry = index.get(CHART_NAME, "0.2.0").unwrap();
    assert_eq!(entry.urls, [format!("{BASE_URL}/{CHART_NAME}-0.2.0.tgz")], "one '/' between base and file");
    assert_eq!(entry.digest.as_deref(), Some(second.digest_sha256.as_str()));
    assert_eq!(entry.created.as_ref().unwrap().as_str(), "2026-01-03T10:00:00Z");
    assert_eq!(entry.api_version.as_deref(), Some("v2"));
    assert_eq!(entry.description, first.metadata.description);

    // Without a base URL, the URL is the file, relative to the index.
    let mut relative = Index::new(time("2026-01-01T00:00:00Z"));
    relative.add(&first, "", time("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(relative.get(CHART_NAME, CHART_VERSION).unwrap().urls, [format!("{CHART_NAME}-{CHART_VERSION}.tgz")]);
}

#[test]
fn a_published_version_is_never_replaced_and_republishing_it_changes_nothing() {
    let published = package(&base_chart()).unwrap();
    let mut index = Index::new(time("2026-01-01T00:00:00Z"));
    index.add(&published, BASE_URL, time("2026-01-01T10:00:00Z")).unwrap();
    let before = index.clone();

    // The same version with other contents.
    let changed = package(&with_file(base_chart(), "README.md", "Now with a README.\n")).unwrap();
    assert_eq!(changed.metadata.version, published.metadata.version);
    assert_ne!(changed.digest_sha256, published.digest_sha256);
    let err = index.add(&changed, BASE_URL, time("2026-01-02T00:00:00Z")).unwrap_err();
    match &err {
        IndexError::VersionExists { chart, version, existing, new } => {
            assert_eq!((chart.as_str(), version.as_str()), (CHART_NAME, CHART_VERSION));
            assert_eq!((existing, new), (&published.digest_sha256, &changed.digest_sha256));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(&format!("{CHART_NAME} {CHART_VERSION} is already in the index")), "{err}");
    assert_eq!(index, before);

    // The same archive again (a rebuild of the same files): nothing changes, not even the time.
    let rebuilt = package(&base_chart()).unwrap();
    assert_eq!(index.add(&rebuilt, BASE_URL, time("2026-01-03T00:00:00Z")).unwrap(), Added::AlreadyPresent);
    assert_eq!(index, before);
    assert_eq!(index.to_yaml().unwrap(), before.to_yaml().unwrap());
}

/// Helm's own example of an index (`pkg/repo` documentation), with a chart added to it.
const HELM_EXAMPLE: &str = r#"apiVersion: v1
entries:
  frobnitz:
  - created: 2016-09-29T12:14:34.830161306-06:00
    description: This is a frobnitz.
    digest: 587bd19a9bd9d2bc4a6d25ab91c8c8e7042c47b4ac246e37bf8e1e74386190f4
    home: http://example.com
    keywords:
    - frobnitz
    - sprocket
    - dodad
    maintainers:
    - email: helm@example.com
      name: The Helm Team
    - email: nobody@example.com
      name: Someone Else
    name: frobnitz
    urls:
    - http://example-charts.com/testdata/repository/frobnitz-1.2.3.tgz
    version: 1.2.3
generated: 2016-09-29T12:14:34.829721375-06:00
"#;

#[test]
fn an_index_round_trips_keeping_what_it_holds() {
    let mut index = Index::parse(HELM_EXAMPLE).unwrap();
    let frobnitz = index.get("frobnitz", "1.2.3").unwrap();
    assert_eq!(frobnitz.created.as_ref().unwrap().as_str(), "2016-09-29T12:14:34.830161306-06:00");
    assert_eq!(frobnitz.maintainers[1].name.as_deref(), Some("Someone Else"));
    assert_eq!(frobnitz.keywords, ["frobnitz", "sprocket", "dodad"]);

    let packaged = package(&base_chart()).unwrap();
    index.add(&packaged, BASE_URL, time("2026-01-02T03:04:05.123456789Z")).unwrap();
    let yaml = index.to_yaml().unwrap();
    let again = Index::parse(&yaml).unwrap();
    assert_eq!(again, index);
    assert_eq!(again.to_yaml().unwrap(), yaml);
    // The example's entry is untouched; times keep their offsets and are quoted, as Helm writes them.
    assert_eq!(again.entries["frobnitz"], Index::parse(HELM_EXAMPLE).unwrap().entries["frobnitz"]);
    assert!(yaml.contains("created: \"2016-09-29T12:14:34.830161306-06:00\"\n"), "{yaml}");
    assert!(yaml.contains("generated: \"2026-01-02T03:04:05.123456789Z\"\n"), "{yaml}");

    // What Helm would refuse to read, we refuse to edit.
    let unknown = HELM_EXAMPLE.replace("    home: http://example.com\n", "    homepage: http://example.com\n");
    let err = Index::parse(&unknown).unwrap_err();
    assert!(matches!(err, IndexError::Parse { .. }), "{err}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("homepage"), "{source}");
    let err = Index::parse(&HELM_EXAMPLE.replace("apiVersion: v1", "apiVersion: v2")).unwrap_err();
    assert!(matches!(&err, IndexError::ApiVersion { found } if found == "v2"), "{err}");
}
