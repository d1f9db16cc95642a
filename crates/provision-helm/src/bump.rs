//! Changing the image tag in a values file by editing that one line: comments, key order and
//! formatting of everything else stay as the team left them (a YAML round trip would lose
//! them). The same edit the generated CI workflow makes with `awk`.
//!
//! The tag is the base chart's `image.tag`: under the base chart's key in an infra chart's
//! values file, or at the top level in a file of the layout before (see [`crate::nest`]).

use std::fmt;

/// A container image tag, as the OCI distribution spec allows: `[A-Za-z0-9_][A-Za-z0-9_.-]`,
/// at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTag(String);

impl ImageTag {
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut chars = value.chars();
        let valid_first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let valid_rest = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if value.is_empty() {
            Err("an image tag cannot be empty".into())
        } else if value.len() > 128 {
            Err(format!("an image tag is at most 128 characters; this one has {}", value.len()))
        } else if !(valid_first && valid_rest) {
            Err(format!(
                "{value:?} is not an image tag: letters, digits, '_', '.' and '-', not starting with '.' or '-'"
            ))
        } else {
            Ok(Self(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a values file's tag cannot be set by editing one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BumpError {
    #[error("line {line}: `{key}:` is not a block of keys (found {found:?}); set image.tag by hand once")]
    NotABlock { key: String, line: usize, found: String },
}

/// `text` with the base chart's `image.tag` set to `tag`, and whether that changed anything.
///
/// The base chart's values are those under its key `chart` (the dependency's name in the
/// infra `Chart.yaml`), or the top level of a file without that key written before the infra
/// repository was a chart of its own. Only the `tag:` line of their `image:` block changes
/// (its trailing comment kept); without one, `tag:` becomes the block's first key; without an
/// `image:` block, one is appended to them. Every other line stays byte for byte.
pub fn set_image_tag(text: &str, chart: &str, tag: &ImageTag) -> Result<(String, bool), BumpError> {
    let out = crate::nest::edit_values(
        text,
        chart,
        |values, offset| {
            set_top_level(values, tag).map_err(|e| match e {
                BumpError::NotABlock { key, line, found } => BumpError::NotABlock { key, line: line + offset, found },
            })
        },
        |e| BumpError::NotABlock { key: chart.to_owned(), line: e.line, found: e.found },
    )?;
    let changed = out != text;
    Ok((out, changed))
}

/// `text` with the top-level `image.tag` set to `tag`.
fn set_top_level(text: &str, tag: &ImageTag) -> Result<String, BumpError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let value = format!("\"{tag}\"");
    let Some(image) = lines.iter().position(|l| key_of(l, 0) == Some("image")) else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("image:\n  tag: {value}\n"));
        return Ok(out);
    };
    let after_key = rest_after_key(lines[image]);
    if !after_key.is_empty() && !after_key.starts_with('#') {
        return Err(BumpError::NotABlock { key: "image".to_owned(), line: image + 1, found: after_key.to_owned() });
    }
    // The block: the lines after `image:` that are blank, comments or indented.
    let block_end = lines[image + 1..]
        .iter()
        .position(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#') || l.starts_with([' ', '\t'])))
        .map_or(lines.len(), |n| image + 1 + n);
    let indent = lines[image + 1..block_end]
        .iter()
        .find(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
        .map_or(2, |l| l.len() - l.trim_start().len());
    let mut out = String::with_capacity(text.len() + value.len());
    let tag_line = (image + 1..block_end).find(|&i| key_of(lines[i], indent) == Some("tag"));
    for (i, line) in lines.iter().enumerate() {
        match tag_line {
            Some(t) if t == i => {
                let comment = trailing_comment(rest_after_key(line));
                let newline = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(&format!("{}tag: {value}{comment}{newline}", " ".repeat(indent)));
            }
            None if i == image => {
                out.push_str(line);
                if !line.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&format!("{}tag: {value}\n", " ".repeat(indent)));
            }
            _ => out.push_str(line),
        }
    }
    Ok(out)
}

/// The key of a `key:` line indented by exactly `indent` spaces.
fn key_of(line: &str, indent: usize) -> Option<&str> {
    let rest = line.strip_prefix(&" ".repeat(indent))?;
    if rest.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    let (key, _) = rest.split_once(':')?;
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))).then_some(key)
}

/// What follows `key:` on a line, trimmed.
fn rest_after_key(line: &str) -> &str {
    line.split_once(':').map_or("", |(_, rest)| rest.trim())
}

/// The ` # comment` after a scalar value, if any (a `#` inside quotes is not one).
fn trailing_comment(value: &str) -> String {
    let mut quote = None;
    for (i, c) in value.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i > 0 && value[..i].ends_with([' ', '\t']) => {
                return format!("  {}", &value[i..]);
            }
            (None, '#') if i == 0 => return format!("  {value}"),
            _ => {}
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "ms-base-chart";

    fn tag(t: &str) -> ImageTag {
        ImageTag::parse(t).unwrap()
    }

    /// Setting `abc123` in `text` replaces line `before` by `after` and nothing else; setting it
    /// again changes nothing.
    fn only_the_tag_line_changes(text: &str, before: &str, after: &str) {
        let (out, changed) = set_image_tag(text, BASE, &tag("abc123")).unwrap();
        assert!(changed);
        assert_eq!(out, text.replace(before, after));
        let (again, changed) = set_image_tag(&out, BASE, &tag("abc123")).unwrap();
        assert!(!changed, "the same tag twice changes nothing");
        assert_eq!(again, out);
    }

    #[test]
    fn the_tag_under_the_base_charts_key_is_the_one_set() {
        let text = "# ours\nms-base-chart:\n  nameOverride: demo\n  image:\n    repository: r/demo\n    tag: latest  # set by CI\n  service:\n    tag: not-this-one\n\n# Team's.\nimage:\n  tag: not-this-one-either\n";
        only_the_tag_line_changes(text, "    tag: latest  # set by CI\n", "    tag: \"abc123\"  # set by CI\n");
    }

    #[test]
    fn under_the_key_an_image_block_is_added_and_an_empty_file_gets_both() {
        let text = "ms-base-chart:\n  replicaCount: 2\n\n# more\nother: 1\n";
        let (out, _) = set_image_tag(text, BASE, &tag("v1")).unwrap();
        assert_eq!(out, "ms-base-chart:\n  replicaCount: 2\n  image:\n    tag: \"v1\"\n\n# more\nother: 1\n");
        let (out, _) = set_image_tag("# Values for qa.\n", BASE, &tag("v1")).unwrap();
        assert_eq!(out, "# Values for qa.\nms-base-chart:\n  image:\n    tag: \"v1\"\n");
    }

    #[test]
    fn an_inline_image_under_the_key_is_refused_with_its_line_in_the_file() {
        let err = set_image_tag("a: 1\nms-base-chart:\n  x: 1\n  image: r:t\n", BASE, &tag("x")).unwrap_err();
        assert_eq!(err, BumpError::NotABlock { key: "image".into(), line: 4, found: "r:t".into() });
        let err = set_image_tag("ms-base-chart: {}\n", BASE, &tag("x")).unwrap_err();
        assert_eq!(err, BumpError::NotABlock { key: BASE.into(), line: 1, found: "{}".into() });
    }

    #[test]
    fn only_the_tag_line_changes_in_a_file_with_values_at_the_top_level() {
        let text = "# ours\nnameOverride: demo\nimage:\n  repository: r/demo # the registry\n  tag: latest   # set by CI\n  pullPolicy: IfNotPresent\nservice:\n  tag: not-this-one\n";
        only_the_tag_line_changes(text, "  tag: latest   # set by CI\n", "  tag: \"abc123\"  # set by CI\n");
    }

    #[test]
    fn a_block_without_a_tag_gets_one_and_a_file_without_image_gets_the_block() {
        let (out, _) = set_image_tag("image:\n    repository: r\nother: 1\n", BASE, &tag("v1")).unwrap();
        assert_eq!(out, "image:\n    tag: \"v1\"\n    repository: r\nother: 1\n");
        let (out, _) = set_image_tag("replicaCount: 2\n# end", BASE, &tag("v1")).unwrap();
        assert_eq!(out, "replicaCount: 2\n# end\nimage:\n  tag: \"v1\"\n");
    }

    #[test]
    fn nested_keys_comments_and_quotes_are_not_mistaken_for_the_tag() {
        let text = "image:\n  # tag: commented\n  nested:\n    tag: deep\n  tag: 'a # b'\n";
        let (out, _) = set_image_tag(text, BASE, &tag("x")).unwrap();
        assert_eq!(out, "image:\n  # tag: commented\n  nested:\n    tag: deep\n  tag: \"x\"\n");
        assert_eq!(trailing_comment("'a # b' # real"), "  # real");
    }

    #[test]
    fn an_inline_image_is_refused_with_its_line() {
        let err = set_image_tag("a: 1\nimage: {repository: r, tag: t}\n", BASE, &tag("x")).unwrap_err();
        assert_eq!(err, BumpError::NotABlock { key: "image".into(), line: 2, found: "{repository: r, tag: t}".into() });
    }

    #[test]
    fn tags_follow_the_registry_rules() {
        for ok in ["latest", "v1.2.3", "3f2a9c1", "_x", "a-b_c.d", &"a".repeat(128)] {
            assert!(ImageTag::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "a b", "ä", "x\n", &"a".repeat(129)] {
            assert!(ImageTag::parse(bad).is_err(), "{bad:?}");
        }
    }
}
