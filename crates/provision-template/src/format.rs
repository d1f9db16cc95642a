//! Built-in rules a string parameter can follow, named in `blueprint.toml` (`format =
//! "go-module"`): rules a regular expression states badly or not at all (a bound on the whole
//! length, elements that must not be `..`), each broken rule reported with its name.

use serde::{Serialize, Serializer};

/// A built-in rule of a string parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Go module path (it lands in `go.mod` and every import line): `/`-separated elements
    /// of `A-Z a-z 0-9 . _ ~ -` as Go's `module.CheckPath` allows them — the first (the
    /// host) lowercase without `_` or `~` and not starting with `-`, no empty element, none
    /// starting or ending with `.` (so no `.` or `..`), none a Windows device name or short
    /// name, no final `/v0` or `/v1` — and at most [`GO_MODULE_MAX`] characters.
    GoModule,
}

/// The longest Go module path accepted. Go sets no bound; this one keeps `go.mod` and every
/// import line of the generated code readable and is far above any real module path.
pub const GO_MODULE_MAX: usize = 255;

/// Windows device names, which Go refuses as path elements (before any dot, in any case).
const WINDOWS_DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

impl Format {
    pub const ALL: [Format; 1] = [Format::GoModule];

    /// The name `blueprint.toml` uses.
    pub fn name(self) -> &'static str {
        match self {
            Format::GoModule => "go-module",
        }
    }

    /// What a value of this format is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Format::GoModule => "a Go module path",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Every rule `value` breaks, as `(rule, message)`; `subject` names it in messages.
    pub fn check(self, subject: &str, value: &str) -> Vec<(&'static str, String)> {
        match self {
            Format::GoModule => go_module(subject, value),
        }
    }
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

fn go_module(subject: &str, value: &str) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let mut push = |rule: &'static str, message: String| {
        if !problems.iter().any(|(r, _)| *r == rule) {
            problems.push((rule, message));
        }
    };
    if value.is_empty() {
        push("required", format!("{subject} must not be empty"));
        return problems;
    }
    let length = value.chars().count();
    if length > GO_MODULE_MAX {
        push(
            "too-long",
            format!("{subject} is {length} characters long; a Go module path has at most {GO_MODULE_MAX}"),
        );
    }
    for (index, element) in value.split('/').enumerate() {
        let first = index == 0;
        if element.is_empty() {
            push(
                "empty-element",
                format!("{subject} {value:?} has an empty element (a leading, trailing or doubled '/')"),
            );
            continue;
        }
        let allowed = |c: char| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '.' | '-')
                || (!first && (c.is_ascii_uppercase() || matches!(c, '_' | '~')))
        };
        if first && element.chars().any(|c| c.is_ascii_uppercase()) {
            push("uppercase", format!("{subject}: the first element, {element:?}, must be lowercase"));
        }
        let mut bad: Vec<String> =
            element.chars().filter(|c| !allowed(*c) && !c.is_ascii_uppercase()).map(|c| format!("{c:?}")).collect();
        bad.dedup();
        if !bad.is_empty() {
            let only = if first { "a-z, 0-9, '.' and '-'" } else { "A-Z, a-z, 0-9, '.', '_', '~' and '-'" };
            push(
                "invalid-character",
                format!("{subject}: element {element:?} contains {}; only {only} are allowed there", bad.join(", ")),
            );
        }
        if element == "." || element == ".." {
            push("dot-dot", format!("{subject} {value:?} has a {element:?} element"));
        } else if element.starts_with('.') || element.ends_with('.') {
            push("dot-edge", format!("{subject}: element {element:?} must not start or end with '.'"));
        }
        if first && element.starts_with('-') {
            push("leading-dash", format!("{subject}: the first element, {element:?}, must not start with '-'"));
        }
        let short = element.split('.').next().unwrap_or_default();
        if WINDOWS_DEVICES.contains(&short.to_ascii_lowercase().as_str()) {
            push("reserved", format!("{subject}: element {element:?} is a Windows device name, which Go refuses"));
        }
        if let Some((_, digits)) = short.rsplit_once('~')
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            push(
                "short-name",
                format!("{subject}: element {element:?} looks like a Windows short name (~ and digits)"),
            );
        }
    }
    if let Some((_, last)) = value.rsplit_once('/')
        && let Some(major) = last.strip_prefix('v')
        && !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && (major == "1" || major.starts_with('0'))
    {
        push(
            "major-version",
            format!("{subject} ends in /{last}; a major version suffix is /v2 or higher, and v0 and v1 have none"),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(value: &str) -> Vec<&'static str> {
        Format::GoModule.check("go_module", value).into_iter().map(|(rule, _)| rule).collect()
    }

    #[test]
    fn go_module_paths_follow_go_s_rules() {
        for good in [
            "example.com/demo",
            "hello",
            "github.com/Sirupsen/logrus",
            "example.com/a~b/C_d.e-f/v2",
            "go.example.com/x/v10",
            &format!("example.com/{}", "a".repeat(GO_MODULE_MAX - 12)),
        ] {
            assert_eq!(rules(good), Vec::<&str>::new(), "{good}");
        }
        for (bad, expected) in [
            ("", &["required"][..]),
            ("example.com/../x", &["dot-dot"]),
            ("example.com/./x", &["dot-dot"]),
            ("..", &["dot-dot"]),
            ("example.com//x", &["empty-element"]),
            ("/example.com/x", &["empty-element"]),
            ("example.com/x/", &["empty-element"]),
            ("Example.com/x", &["uppercase"]),
            ("example_x.com/x", &["invalid-character"]),
            ("example.com/a b", &["invalid-character"]),
            ("example.com/\"x", &["invalid-character"]),
            ("example.com/x\n", &["invalid-character"]),
            ("example.com/é", &["invalid-character"]),
            ("example.com/a#b", &["invalid-character"]),
            ("example.com/.hidden", &["dot-edge"]),
            ("example.com/x.", &["dot-edge"]),
            ("-example.com/x", &["leading-dash"]),
            ("example.com/con", &["reserved"]),
            ("example.com/LPT1.txt", &["reserved"]),
            ("example.com/progra~1", &["short-name"]),
            ("example.com/x/v1", &["major-version"]),
            ("example.com/x/v0", &["major-version"]),
            ("example.com/x/v02", &["major-version"]),
        ] {
            assert_eq!(rules(bad), expected, "{bad:?}");
        }
        let long = format!("example.com/{}", "a".repeat(GO_MODULE_MAX));
        assert_eq!(rules(&long), ["too-long"]);
        assert_eq!(
            rules("Ex_ample.com//../x/v1"),
            ["uppercase", "invalid-character", "empty-element", "dot-dot", "major-version"]
        );
    }

    #[test]
    fn formats_are_named_as_blueprint_toml_names_them() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.name()), Some(format));
        }
        assert_eq!(Format::parse("Go-Module"), None);
    }
}
