//! Packaging a chart as `helm package` does, and the chart repository's `index.yaml` as
//! `helm repo index` writes it, without Helm, a clock or (apart from [`read_chart_dir`]) I/O.
//!
//! [`package`] takes the chart's files, drops what `.helmignore` names (Helm's own rules,
//! quirks included), checks `Chart.yaml`, and writes a gzip'd tar laid out as Helm's is
//! (`<name>/Chart.yaml`, `<name>/values.yaml`, `<name>/values.schema.json`,
//! `<name>/templates/…`, then the other files). The archive is deterministic: entries in that
//! order, each mode 0644, uid and gid 0, mtime 0, no user or group names, and a gzip header
//! with no name and no time. The same files give the same bytes, hence the same digest, as
//! long as the compressor (zlib-rs) is the same version: a repository index can refuse a
//! version republished with other contents without refusing a rebuild.
//!
//! [`Index`] is Helm's repository index: entries per chart, newest version first, each with
//! the archive's sha256 digest and URL. [`Index::add`] never replaces a published version.

use provision_core::{FileEntry, FileSet, Invalid, Problem, RepoPath};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Helm refuses to load a chart with a larger file (`archive.MaxDecompressedFileSize`).
pub const MAX_FILE_SIZE: usize = 5 * 1024 * 1024;
/// Helm refuses to load a larger chart (`archive.MaxDecompressedChartSize`).
pub const MAX_CHART_SIZE: usize = 100 * 1024 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a chart cannot be read or packaged.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is neither a regular file nor a directory (symbolic links and special files are not packaged)")]
    NotRegular { path: PathBuf },
    #[error("{path} cannot be a chart file: {problems}")]
    BadPath { path: PathBuf, problems: Invalid },
    #[error(".helmignore line {line}: {pattern:?}: {reason}")]
    HelmIgnore { line: usize, pattern: String, reason: &'static str },
    #[error("the chart has no Chart.yaml (or its .helmignore ignores it)")]
    MissingChartYaml,
    #[error("cannot read Chart.yaml")]
    ChartYaml {
        #[source]
        source: serde_saphyr::Error,
    },
    #[error("Chart.yaml is invalid: {problems}")]
    InvalidChart { problems: Invalid },
    #[error("values.yaml is not YAML")]
    Values {
        #[source]
        source: serde_saphyr::Error,
    },
    #[error("values.schema.json is not JSON")]
    Schema {
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} has {size} bytes; Helm loads no chart file larger than {MAX_FILE_SIZE}")]
    FileTooLarge { path: RepoPath, size: usize },
    #[error("the chart's files have {size} bytes; Helm loads no chart larger than {MAX_CHART_SIZE}")]
    ChartTooLarge { size: usize },
    #[error("cannot write the chart archive")]
    Archive {
        #[source]
        source: std::io::Error,
    },
}

// ---------------------------------------------------------------------------------------------
// Reading a chart directory

/// Every regular file below `dir`, with paths relative to it. `.git` directories are skipped;
/// symbolic links and special files are refused, so a chart cannot pull in host files.
/// Nothing is ignored here: [`package`] applies `.helmignore`.
pub fn read_chart_dir(dir: &Path) -> Result<FileSet, PackageError> {
    let read = |path: &Path, source| PackageError::Read { path: path.to_path_buf(), source };
    let mut files = FileSet::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        for entry in std::fs::read_dir(&path).map_err(|e| read(&path, e))? {
            let entry = entry.map_err(|e| read(&path, e))?;
            let full = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(PackageError::BadPath {
                    problems: Invalid::one("", "not-utf8", "the file name is not UTF-8"),
                    path: full,
                });
            };
            let rel = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
            let kind = entry.file_type().map_err(|e| read(&full, e))?;
            if kind.is_dir() {
                if name != ".git" {
                    pending.push((full, rel));
                }
            } else if kind.is_file() {
                let path =
                    RepoPath::parse(&rel).map_err(|problems| PackageError::BadPath { path: full.clone(), problems })?;
                let content = std::fs::read(&full).map_err(|e| read(&full, e))?;
                files.insert(path, FileEntry::new(content));
            } else {
                return Err(PackageError::NotRegular { path: full });
            }
        }
    }
    Ok(files)
}

// ---------------------------------------------------------------------------------------------
// .helmignore

/// `.helmignore` as Helm reads it (`pkg/ignore`): one pattern a line, `#` comments, Go's
/// `filepath.Match` globs (`*`, `?`, `[…]` with `^` negation, `\` escapes), no `**`. A
/// pattern ending in `/` matches directories only; one starting with `/` or containing `/`
/// matches the path from the chart's root, any other the last path segment. An ignored
/// directory drops everything below it. Helm always adds `templates/.?*`.
///
/// Negated patterns (`!pattern`) are kept as Helm evaluates them, which is not gitignore's
/// way: a path that does *not* match a negated pattern is ignored.
struct IgnoreRules {
    rules: Vec<IgnoreRule>,
}

struct IgnoreRule {
    negate: bool,
    dir_only: bool,
    /// Matched against the whole relative path rather than its last segment.
    whole_path: bool,
    glob: Vec<GlobToken>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GlobToken {
    Literal(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl IgnoreRules {
    fn parse(text: &str) -> Result<Self, PackageError> {
        let mut rules = Self { rules: Vec::new() };
        for (index, line) in text.lines().enumerate() {
            rules.add(line).map_err(|reason| PackageError::HelmIgnore {
                line: index + 1,
                pattern: line.trim().to_owned(),
                reason,
            })?;
        }
        Ok(rules)
    }

    fn add(&mut self, line: &str) -> Result<(), &'static str> {
        let rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported");
        }
        // Helm compiles the whole line, `!` and slashes included, to reject bad patterns.
        parse_glob(rule)?;
        let (negate, rule) = match rule.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, rule),
        };
        let (dir_only, rule) = match rule.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, rule),
        };
        let (whole_path, rule) = match rule.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (rule.contains('/'), rule),
        };
        self.rules.push(IgnoreRule { negate, dir_only, whole_path, glob: parse_glob(rule)? });
        Ok(())
    }

    /// Helm's `Rules.Ignore`, rule by rule: the first positive match ignores the path; a
    /// negated rule ignores whatever it does not match.
    fn ignores(&self, path: &str, is_dir: bool) -> bool {
        for rule in &self.rules {
            let name = if rule.whole_path { path } else { path.rsplit('/').next().unwrap_or(path) };
            // A directory-only rule does not apply to a file.
            let applies = is_dir || !rule.dir_only;
            if rule.negate {
                if !applies || !glob_matches(&rule.glob, name) {
                    return true;
                }
            } else if applies && glob_matches(&rule.glob, name) {
                return true;
            }
        }
        false
    }

    /// Whether the file at `path` is left out, itself or through one of its directories.
    fn ignores_file(&self, path: &str) -> bool {
        let dirs = path.match_indices('/').map(|(end, _)| &path[..end]);
        dirs.into_iter().any(|dir| self.ignores(dir, true)) || self.ignores(path, false)
    }
}

/// Compiles a glob as Go's `filepath.Match` reads it, refusing what it calls a bad pattern.
fn parse_glob(pattern: &str) -> Result<Vec<GlobToken>, &'static str> {
    const BAD: &str = "not a valid pattern (Go's filepath.Match syntax)";
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    // One character of a class, `\` escapes resolved; never `-` or `]` unescaped, and never
    // the pattern's last character (the class must still be closed).
    let class_char = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Result<char, &'static str> {
        let c = match chars.next() {
            None | Some('-' | ']') => return Err(BAD),
            Some('\\') => chars.next().ok_or(BAD)?,
            Some(c) => c,
        };
        if chars.peek().is_none() { Err(BAD) } else { Ok(c) }
    };
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                if tokens.last() != Some(&GlobToken::Star) {
                    tokens.push(GlobToken::Star);
                }
            }
            '?' => tokens.push(GlobToken::One),
            '\\' => tokens.push(GlobToken::Literal(chars.next().ok_or(BAD)?)),
            '[' => {
                let negated = chars.next_if_eq(&'^').is_some();
                let mut ranges = Vec::new();
                loop {
                    if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
                        break;
                    }
                    let lo = class_char(&mut chars)?;
                    let hi = if chars.next_if_eq(&'-').is_some() { class_char(&mut chars)? } else { lo };
                    ranges.push((lo, hi));
                }
                tokens.push(GlobToken::Class { negated, ranges });
            }
            c => tokens.push(GlobToken::Literal(c)),
        }
    }
    Ok(tokens)
}

fn glob_matches(glob: &[GlobToken], name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    matches_from(glob, &chars)
}

fn matches_from(glob: &[GlobToken], name: &[char]) -> bool {
    let Some((token, rest)) = glob.split_first() else {
        return name.is_empty();
    };
    match token {
        // The star takes zero or more characters, up to the next `/` at most.
        GlobToken::Star => {
            let longest = name.iter().position(|&c| c == '/').unwrap_or(name.len());
            (0..=longest).any(|taken| matches_from(rest, &name[taken..]))
        }
        _ => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            let one = match token {
                GlobToken::Literal(l) => *l == c,
                GlobToken::One => c != '/',
                GlobToken::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
                GlobToken::Star => false,
            };
            one && matches_from(rest, name_rest)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Chart.yaml

/// The chart type (`type` in `Chart.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartType {
    Application,
    Library,
}

/// `Chart.yaml` (chart API v2), checked as Helm checks it before packaging, and with its
/// strings cleaned as Helm cleans them (whitespace becomes a space, control characters go),
/// so this is what Helm reports for the packaged chart. Unknown keys are refused (Helm
/// ignores them): a misspelt key would otherwise vanish silently.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartMetadata {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub name: String,
    /// SemVer 2.
    #[serde(default)]
    pub version: String,
    pub app_version: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<ChartType>,
    pub kube_version: Option<String>,
    pub home: Option<String>,
    pub icon: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub maintainers: Vec<Maintainer>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub dependencies: Vec<MetadataDependency>,
    pub condition: Option<String>,
    pub tags: Option<String>,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One of `Chart.yaml`'s `dependencies` (Helm's `Dependency`; fields in the order Helm writes
/// them into an index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MetadataDependency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enabled: bool,
    /// Each a key or a `{child, parent}` map.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_values: Vec<serde_json::Value>,
    pub name: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl ChartMetadata {
    /// Reads and checks `Chart.yaml`, reporting every broken rule at once.
    pub fn parse(text: &[u8]) -> Result<Self, PackageError> {
        let text = text.strip_prefix(UTF8_BOM).unwrap_or(text);
        let mut chart: Self = serde_saphyr::from_slice(text).map_err(|source| PackageError::ChartYaml { source })?;
        chart.clean();
        let mut problems = Vec::new();
        match chart.api_version.as_str() {
            "v2" => {}
            "" => problems.push(Problem::new("apiVersion", "required", "apiVersion is required; charts here are v2")),
            other => problems.push(Problem::new(
                "apiVersion",
                "unsupported",
                format!("apiVersion is {other:?}; only v2 charts are packaged"),
            )),
        }
        if chart.name.is_empty() {
            problems.push(Problem::new("name", "required", "name is required"));
        } else if !valid_chart_name(&chart.name) {
            problems.push(Problem::new(
                "name",
                "invalid-character",
                format!(
                    "name {:?} must be letters, digits, '-', '_' and '.', not starting with '.' \
                     (it names the archive and its top directory)",
                    chart.name
                ),
            ));
        }
        if chart.version.is_empty() {
            problems.push(Problem::new("version", "required", "version is required"));
        } else if let Err(e) = semver::Version::parse(&chart.version) {
            problems.push(Problem::new(
                "version",
                "semver",
                format!("version {:?} is not SemVer 2 (such as 1.2.3 or 1.2.3-rc.1): {e}", chart.version),
            ));
        }
        for (i, dependency) in chart.dependencies.iter().enumerate() {
            if dependency.name.is_empty() {
                problems.push(Problem::new(format!("dependencies.{i}.name"), "required", "a dependency needs a name"));
            }
        }
        if problems.is_empty() {
            Ok(chart)
        } else {
            Err(PackageError::InvalidChart { problems: Invalid::new(problems) })
        }
    }

    /// Helm's `sanitizeString`, on the fields Helm applies it to.
    fn clean(&mut self) {
        let clean_all = |values: &mut Vec<String>| values.iter_mut().for_each(|v| *v = clean(v));
        self.name = clean(&self.name);
        for field in [
            &mut self.description,
            &mut self.home,
            &mut self.icon,
            &mut self.condition,
            &mut self.tags,
            &mut self.app_version,
            &mut self.kube_version,
        ]
        .into_iter()
        .flatten()
        {
            *field = clean(field);
        }
        clean_all(&mut self.sources);
        clean_all(&mut self.keywords);
        for m in &mut self.maintainers {
            for field in [&mut m.name, &mut m.email, &mut m.url].into_iter().flatten() {
                *field = clean(field);
            }
        }
        for d in &mut self.dependencies {
            for field in [&mut d.name, &mut d.repository] {
                *field = clean(field);
            }
            for field in [&mut d.version, &mut d.condition].into_iter().flatten() {
                *field = clean(field);
            }
            clean_all(&mut d.tags);
            clean_all(&mut d.depends_on);
        }
    }

    /// `<name>-<version>.tgz`, as `helm package` names it.
    pub fn archive_name(&self) -> String {
        format!("{}-{}.tgz", self.name, self.version)
    }
}

fn clean(value: &str) -> String {
    value.chars().filter_map(|c| if c.is_whitespace() { Some(' ') } else { (!c.is_control()).then_some(c) }).collect()
}

fn valid_chart_name(name: &str) -> bool {
    !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

// ---------------------------------------------------------------------------------------------
// Packaging

/// A packaged chart, ready to be written next to the repository's `index.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packaged {
    /// `<name>-<version>.tgz`.
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// The sha256 of `bytes`, lowercase hex: what the index's `digest` holds.
    pub digest_sha256: String,
    pub metadata: ChartMetadata,
    /// The chart's files in the archive, in archive order (below `<name>/`).
    pub files: Vec<RepoPath>,
}

/// Packages a chart given as its files (paths relative to the chart's directory), as
/// `helm package` would: `.helmignore` applied, `Chart.yaml` checked, `values.yaml` and
/// `values.schema.json` readable, a leading UTF-8 byte order mark dropped from every file.
///
/// Unlike Helm, `Chart.yaml` is archived as written (Helm writes its own serialization) and
/// files under `charts/` as they are (Helm re-packs subcharts): Helm loads the two alike.
pub fn package(chart: &FileSet) -> Result<Packaged, PackageError> {
    let mut rules = match chart.get(".helmignore") {
        Some(file) => IgnoreRules::parse(&String::from_utf8_lossy(strip_bom(&file.content)))?,
        None => IgnoreRules { rules: Vec::new() },
    };
    rules.add("templates/.?*").map_err(|reason| PackageError::HelmIgnore {
        line: 0,
        pattern: "templates/.?*".into(),
        reason,
    })?;

    let mut files: Vec<(&RepoPath, &[u8])> = chart
        .iter()
        .filter(|(path, _)| !rules.ignores_file(path.as_str()))
        .map(|(p, e)| (p, strip_bom(&e.content)))
        .collect();
    let mut total = 0;
    for (path, content) in &files {
        if content.len() > MAX_FILE_SIZE {
            return Err(PackageError::FileTooLarge { path: (*path).clone(), size: content.len() });
        }
        total += content.len();
    }
    if total > MAX_CHART_SIZE {
        return Err(PackageError::ChartTooLarge { size: total });
    }
    let content = |name: &str| files.iter().find(|(p, _)| p.as_str() == name).map(|(_, c)| *c);
    let metadata = ChartMetadata::parse(content("Chart.yaml").ok_or(PackageError::MissingChartYaml)?)?;
    if let Some(values) = content("values.yaml") {
        serde_saphyr::from_slice_multiple::<serde::de::IgnoredAny>(values)
            .map_err(|source| PackageError::Values { source })?;
    }
    if let Some(schema) = content("values.schema.json") {
        serde_json::from_slice::<serde::de::IgnoredAny>(schema).map_err(|source| PackageError::Schema { source })?;
    }

    files.sort_by(|(a, _), (b, _)| archive_order(a.as_str()).cmp(&archive_order(b.as_str())));

    let archive = |source| PackageError::Archive { source };
    let gzip = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    for (path, content) in &files {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(content.len() as u64);
        tar.append_data(&mut header, format!("{}/{path}", metadata.name), *content).map_err(archive)?;
    }
    let bytes = tar.into_inner().and_then(|gzip| gzip.finish()).map_err(archive)?;

    Ok(Packaged {
        file_name: metadata.archive_name(),
        digest_sha256: format!("{:x}", Sha256::digest(&bytes)),
        files: files.into_iter().map(|(path, _)| path.clone()).collect(),
        bytes,
        metadata,
    })
}

/// Helm's order: the metadata, the values and their schema, the templates, the rest.
fn archive_order(path: &str) -> (u8, &str) {
    let group = match path {
        "Chart.yaml" => 0,
        "values.yaml" => 1,
        "values.schema.json" => 2,
        _ if path.starts_with("templates/") => 3,
        _ => 4,
    };
    (group, path)
}

fn strip_bom(content: &[u8]) -> &[u8] {
    content.strip_prefix(UTF8_BOM).unwrap_or(content)
}

// ---------------------------------------------------------------------------------------------
// The repository index

/// Why an index cannot be read, written or added to.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index.yaml is not a Helm repository index")]
    Parse {
        #[source]
        source: serde_saphyr::Error,
    },
    #[error("index.yaml has apiVersion {found:?}; Helm repository indexes are v1")]
    ApiVersion { found: String },
    #[error(
        "{chart} {version} is already in the index with digest {existing}, and this package's digest is {new}: \
         a published version is never replaced; publish the change under a new version"
    )]
    VersionExists { chart: String, version: String, existing: String, new: String },
    #[error("cannot serialize index.yaml")]
    Serialize {
        #[source]
        source: serde_saphyr::ser::Error,
    },
}

/// A point in time as the index writes it: RFC 3339, kept as read (Helm writes nanoseconds and
/// the local offset), so rewriting an index changes none of its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexTime(String);

impl IndexTime {
    pub fn parse(value: &str) -> Result<Self, String> {
        value
            .parse::<jiff::Timestamp>()
            .map(|_| Self(value.to_owned()))
            .map_err(|e| format!("{value:?} is not an RFC 3339 time: {e}"))
    }

    pub fn timestamp(&self) -> jiff::Timestamp {
        // Checked by `parse`; `From<Timestamp>` writes what parses.
        self.0.parse().unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<jiff::Timestamp> for IndexTime {
    fn from(time: jiff::Timestamp) -> Self {
        Self(time.to_string())
    }
}

impl fmt::Display for IndexTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for IndexTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Quoted, as Helm writes it: a YAML 1.1 reader would take it for a timestamp.
        serde_saphyr::DoubleQuoted(self.0.as_str()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for IndexTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Helm's repository index (`index.yaml`, `repo.IndexFile`). Keys are declared in the order
/// Helm writes them (alphabetical), and unknown keys refused, as Helm refuses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Index {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub api_version: String,
    /// Per chart name, its versions, newest first.
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<IndexTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<String>,
    /// ChartMuseum's; Helm reads and drops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One chart version in the index (`repo.ChartVersion`): its `Chart.yaml` metadata plus where
/// the archive is, when it was added and its digest. Keys in Helm's (alphabetical) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexEntry {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Helm 2's; Helm 3 and 4 ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<IndexTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<MetadataDependency>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The archive's sha256, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Helm 2's; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Helm 2's; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiller_version: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChartType>,
    /// Helm 2's; superseded by `urls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

impl IndexEntry {
    /// The entry `helm repo index` writes for an archive.
    pub fn new(chart: &ChartMetadata, digest_sha256: &str, url: String, created: IndexTime) -> Self {
        let chart = chart.clone();
        Self {
            annotations: chart.annotations,
            api_version: Some(chart.api_version),
            app_version: chart.app_version,
            checksum: None,
            condition: chart.condition,
            created: Some(created),
            dependencies: chart.dependencies,
            deprecated: chart.deprecated,
            description: chart.description,
            digest: Some(digest_sha256.to_owned()),
            engine: None,
            home: chart.home,
            icon: chart.icon,
            keywords: chart.keywords,
            kube_version: chart.kube_version,
            maintainers: chart.maintainers,
            name: chart.name,
            removed: false,
            sources: chart.sources,
            tags: chart.tags,
            tiller_version: None,
            kind: chart.kind,
            url: None,
            urls: vec![url],
            version: chart.version,
        }
    }
}

/// What [`Index::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A new entry; `generated` is now the time of the addition.
    New,
    /// The index already held this version with this digest; nothing changed.
    AlreadyPresent,
}

/// Where an archive is, as `helm repo index --url` writes it: `<base url>/<file>`; with no base
/// URL, the file name (relative to the index).
pub fn chart_url(base_url: &str, file_name: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.is_empty() { file_name.to_owned() } else { format!("{base}/{file_name}") }
}

impl Index {
    /// An index with no charts.
    pub fn new(generated: jiff::Timestamp) -> Self {
        Self {
            annotations: BTreeMap::new(),
            api_version: "v1".into(),
            entries: BTreeMap::new(),
            generated: Some(generated.into()),
            public_keys: Vec::new(),
            server_info: None,
        }
    }

    /// Reads an `index.yaml`; entries keep their order.
    pub fn parse(text: &str) -> Result<Self, IndexError> {
        let index: Self = serde_saphyr::from_str(text).map_err(|source| IndexError::Parse { source })?;
        if index.api_version != "v1" {
            return Err(IndexError::ApiVersion { found: index.api_version });
        }
        Ok(index)
    }

    pub fn to_yaml(&self) -> Result<String, IndexError> {
        serde_saphyr::to_string(self).map_err(|source| IndexError::Serialize { source })
    }

    /// The entry for exactly this chart version.
    pub fn get(&self, chart: &str, version: &str) -> Option<&IndexEntry> {
        self.entries.get(chart)?.iter().find(|e| e.version == version)
    }

    /// Adds a packaged chart, served from `base_url`, at `now`. Older versions stay; the
    /// chart's versions are then sorted newest first, as `helm repo index` sorts them.
    ///
    /// A version already present with the same digest is left as it is ([`Added::AlreadyPresent`],
    /// nothing changes, `generated` included); with another digest (or none) it is refused:
    /// whoever pulled the published archive must keep getting the same bytes.
    pub fn add(&mut self, chart: &Packaged, base_url: &str, now: jiff::Timestamp) -> Result<Added, IndexError> {
        let name = &chart.metadata.name;
        let version = &chart.metadata.version;
        if let Some(existing) = self.get(name, version) {
            return match &existing.digest {
                Some(digest) if *digest == chart.digest_sha256 => Ok(Added::AlreadyPresent),
                other => Err(IndexError::VersionExists {
                    chart: name.clone(),
                    version: version.clone(),
                    existing: other.clone().unwrap_or_else(|| "(none)".into()),
                    new: chart.digest_sha256.clone(),
                }),
            };
        }
        let entry =
            IndexEntry::new(&chart.metadata, &chart.digest_sha256, chart_url(base_url, &chart.file_name), now.into());
        let versions = self.entries.entry(name.clone()).or_default();
        versions.push(entry);
        sort_newest_first(versions);
        self.generated = Some(now.into());
        Ok(Added::New)
    }
}

/// Helm's `SortEntries`: by SemVer precedence, newest first, versions Helm cannot read last.
/// Helm reads versions loosely (`v1.2`, `1.2`), so this does too.
fn sort_newest_first(versions: &mut [IndexEntry]) {
    versions.sort_by(|a, b| match (loose_semver(&a.version), loose_semver(&b.version)) {
        (Some(a), Some(b)) => b.cmp_precedence(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
}

/// A version as Masterminds/semver's `NewVersion` reads it: an optional `v`, and a minor or
/// patch number that may be missing.
fn loose_semver(version: &str) -> Option<semver::Version> {
    if let Ok(v) = semver::Version::parse(version) {
        return Some(v);
    }
    let version = version.strip_prefix('v').unwrap_or(version);
    let split = version.find(['-', '+']).unwrap_or(version.len());
    let (core, rest) = version.split_at(split);
    let parts = core.split('.').count();
    if !(1..=3).contains(&parts) {
        return None;
    }
    semver::Version::parse(&format!("{core}{}{rest}", ".0".repeat(3 - parts))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text).unwrap()
    }

    #[test]
    fn globs_match_as_go_filepath_match_does() {
        for (pattern, name, expected) in [
            ("*.bak", "values.bak", true),
            ("*.bak", "values.bak.txt", false),
            ("*", "a/b", false),
            ("a/*", "a/b", true),
            ("a/*", "a/b/c", false),
            ("?.txt", "a.txt", true),
            ("?.txt", "/.txt", false),
            ("*~", "notes~", true),
            ("[abc].yaml", "b.yaml", true),
            ("[^abc].yaml", "b.yaml", false),
            ("[^abc].yaml", "d.yaml", true),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("\\*.txt", "*.txt", true),
            ("\\*.txt", "a.txt", false),
            (".*", ".DS_Store", true),
            ("*.swp", ".x.swp", true),
            ("templates/.?*", "templates/.hidden", true),
            ("templates/.?*", "templates/.", false),
        ] {
            let glob = parse_glob(pattern).unwrap();
            assert_eq!(glob_matches(&glob, name), expected, "{pattern} on {name}");
        }
        for bad in ["[", "[]", "[a", "a\\", "[-a]", "[a-]", "[a-b"] {
            assert!(parse_glob(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn helmignore_follows_helms_rules() {
        let r = rules("# comment\n\n  *.bak  \n.idea/\n/top.txt\ndocs/*.md\n");
        assert!(r.ignores_file("a.bak"));
        assert!(r.ignores_file("templates/deep/a.bak"), "a pattern without '/' matches the last segment");
        assert!(r.ignores_file(".idea/workspace.xml"), "an ignored directory drops its files");
        assert!(r.ignores_file("sub/.idea/x"));
        assert!(!r.ignores_file(".idea"), "'dir/' patterns match directories only");
        assert!(r.ignores_file("top.txt"));
        assert!(!r.ignores_file("sub/top.txt"), "'/x' is anchored at the chart root");
        assert!(r.ignores_file("docs/a.md"));
        assert!(!r.ignores_file("other/docs/a.md"), "a pattern with '/' matches the whole path");
        assert!(!r.ignores_file("Chart.yaml"));

        // Helm's negation: whatever a negated rule does not match is ignored.
        let negated = rules("!keep.txt\n");
        assert!(!negated.ignores_file("keep.txt"));
        assert!(negated.ignores_file("Chart.yaml"));

        for (text, line) in [("ok\n**/x\n", 2), ("[oops\n", 1)] {
            match IgnoreRules::parse(text) {
                Err(PackageError::HelmIgnore { line: l, .. }) => assert_eq!(l, line, "{text}"),
                Err(other) => panic!("{text}: {other}"),
                Ok(_) => panic!("{text}: accepted"),
            }
        }
    }

    #[test]
    fn chart_yaml_problems_are_all_reported_with_their_fields() {
        let err = ChartMetadata::parse(b"apiVersion: v1\nname: a/b\nversion: 1.0\n").unwrap_err();
        let PackageError::InvalidChart { problems } = err else { panic!("{err}") };
        let fields: Vec<_> = problems.problems().iter().map(|p| (p.field.as_str(), p.rule)).collect();
        assert_eq!(fields, [("apiVersion", "unsupported"), ("name", "invalid-character"), ("version", "semver")]);

        let err = ChartMetadata::parse(b"description: x\n").unwrap_err();
        let PackageError::InvalidChart { problems } = err else { panic!("{err}") };
        let fields: Vec<_> = problems.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["apiVersion", "name", "version"]);
        assert!(PackageError::InvalidChart { problems }.to_string().contains("version is required"));

        let err = ChartMetadata::parse(b"apiVersion: v2\nname: a\nversion: 1.0.0\nappversion: x\n").unwrap_err();
        assert!(matches!(err, PackageError::ChartYaml { .. }), "{err}");
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("appversion"), "{source}");

        let chart = ChartMetadata::parse(
            b"\xEF\xBB\xBFapiVersion: v2\nname: demo\nversion: 1.2.3-rc.1+b5\ntype: library\ndescription: |\n  two\n  lines\n",
        )
        .unwrap();
        assert_eq!(chart.kind, Some(ChartType::Library));
        assert_eq!(chart.description.as_deref(), Some("two lines "), "whitespace becomes spaces, as in Helm");
        assert_eq!(chart.archive_name(), "demo-1.2.3-rc.1+b5.tgz");
    }

    #[test]
    fn versions_sort_newest_first_as_helm_sorts_them() {
        let entry = |version: &str| IndexEntry {
            version: version.into(),
            ..IndexEntry::new(
                &ChartMetadata::parse(b"apiVersion: v2\nname: a\nversion: 0.0.1\n").unwrap(),
                "",
                String::new(),
                jiff::Timestamp::UNIX_EPOCH.into(),
            )
        };
        let mut versions: Vec<_> =
            ["0.2.0", "not-a-version", "0.10.0", "v0.3", "1.0.0-rc.1", "1.0.0", "0.9.9"].map(entry).into();
        sort_newest_first(&mut versions);
        let order: Vec<_> = versions.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(order, ["1.0.0", "1.0.0-rc.1", "0.10.0", "0.9.9", "v0.3", "0.2.0", "not-a-version"]);
    }

    #[test]
    fn urls_join_the_base_and_the_file() {
        assert_eq!(chart_url("https://charts.example.com", "a-1.0.0.tgz"), "https://charts.example.com/a-1.0.0.tgz");
        assert_eq!(
            chart_url("https://x.example.com/charts/", "a-1.0.0.tgz"),
            "https://x.example.com/charts/a-1.0.0.tgz"
        );
        assert_eq!(chart_url("", "a-1.0.0.tgz"), "a-1.0.0.tgz");
    }

    #[test]
    fn index_times_are_kept_as_written() {
        let time = IndexTime::parse("2016-10-06T16:23:20.499814565-06:00").unwrap();
        assert_eq!(time.as_str(), "2016-10-06T16:23:20.499814565-06:00");
        assert_eq!(time.timestamp().to_string(), "2016-10-06T22:23:20.499814565Z");
        assert!(IndexTime::parse("yesterday").is_err());
    }
}
