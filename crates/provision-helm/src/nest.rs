//! Where a values file of the infra chart keeps the base chart's values: under the base
//! chart's name (the dependency's key, as Helm passes values to a dependency), or — in infra
//! repositories generated before the infra repository was a chart of its own — at the top
//! level. Line edits ([`crate::set_image_tag`], [`crate::put_sealed_values`]) go through
//! [`edit_values`] so they address the right place in either layout.

/// Why the base chart's values cannot be found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotABlock {
    /// 1-based.
    pub line: usize,
    pub found: String,
}

/// `text` with `edit` applied to the base chart's values in it.
///
/// - A top-level `<key>:` block: `edit` gets the block's lines without their indentation (a
///   values document of its own) and what it returns is indented back in place; `offset` is
///   the number of lines before the block, so line numbers `edit` reports can be made the
///   file's.
/// - No such block but other top-level keys (the layout before): `edit` gets the whole file.
/// - Nothing at all (blank or comments only): the edit of an empty document, as a new block.
///
/// Every line outside the block stays byte for byte.
pub(crate) fn edit_values<E>(
    text: &str,
    key: &str,
    edit: impl FnOnce(&str, usize) -> Result<String, E>,
    not_a_block: impl FnOnce(NotABlock) -> E,
) -> Result<String, E> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| top_level_key(l) == Some(key)) else {
        if lines.iter().any(|l| top_level_key(l).is_some()) {
            return edit(text, 0);
        }
        let inner = edit("", 0)?;
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("{key}:\n"));
        out.push_str(&indent(&inner, 2));
        return Ok(out);
    };
    let after = rest_after_key(lines[start]);
    if !after.is_empty() && !after.starts_with('#') {
        return Err(not_a_block(NotABlock { line: start + 1, found: after.to_owned() }));
    }
    // The block: the lines after the key up to the next top-level entry, less the blank lines
    // and comments just before that entry (they belong to it).
    let next = lines[start + 1..]
        .iter()
        .position(|l| !(l.trim().is_empty() || l.starts_with([' ', '\t', '#'])))
        .map_or(lines.len(), |n| start + 1 + n);
    let mut end = next;
    while end > start + 1 && (lines[end - 1].trim().is_empty() || lines[end - 1].starts_with('#')) {
        end -= 1;
    }
    let block = &lines[start + 1..end];
    let depth = block
        .iter()
        .find(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
        .map_or(2, |l| l.len() - l.trim_start().len());
    let inner: String = block.iter().map(|l| dedent(l, depth)).collect();
    let edited = edit(&inner, start + 1)?;
    let mut out = String::with_capacity(text.len() + edited.len());
    out.extend(lines[..=start].iter().copied());
    if !lines[start].ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&indent(&edited, depth));
    if end < lines.len() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.extend(lines[end..].iter().copied());
    Ok(out)
}

/// The key of a line that starts a top-level mapping entry.
fn top_level_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', '-']) || line.starts_with("---") {
        return None;
    }
    let (key, _) = line.split_once(':')?;
    let key = key.trim_end();
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))).then_some(key)
}

/// What follows `key:` on a line, trimmed.
fn rest_after_key(line: &str) -> &str {
    line.split_once(':').map_or("", |(_, rest)| rest.trim())
}

/// `line` less up to `depth` leading spaces.
fn dedent(line: &str, depth: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(depth)..]
}

/// Every non-blank line of `text` indented by `depth` spaces.
fn indent(text: &str, depth: usize) -> String {
    let pad = " ".repeat(depth);
    text.split_inclusive('\n').map(|l| if l.trim().is_empty() { l.to_owned() } else { format!("{pad}{l}") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(text: &str) -> String {
        edit_values(text, "base", |t, _| Ok::<_, NotABlock>(t.to_uppercase()), |e| e).unwrap()
    }

    #[test]
    fn the_block_under_the_key_is_edited_as_a_document_and_put_back() {
        let text = "# head\nbase:\n    image:\n      tag: a # c\n\n    x: 1\n\n# next\nother:\n  y: 2\n";
        let seen = edit_values(text, "base", |t, offset| Ok::<_, NotABlock>(format!("{offset}|{t}")), |e| e).unwrap();
        assert_eq!(seen, "# head\nbase:\n    2|image:\n      tag: a # c\n\n    x: 1\n\n# next\nother:\n  y: 2\n");
        assert_eq!(upper(text), "# head\nbase:\n    IMAGE:\n      TAG: A # C\n\n    X: 1\n\n# next\nother:\n  y: 2\n");
    }

    #[test]
    fn without_the_key_the_top_level_is_edited_and_an_empty_file_gets_the_block() {
        assert_eq!(upper("image:\n  tag: a\n"), "IMAGE:\n  TAG: A\n");
        let added = edit_values("# only a comment", "base", |_, _| Ok::<_, NotABlock>("x: 1\n".into()), |e| e);
        assert_eq!(added.unwrap(), "# only a comment\nbase:\n  x: 1\n");
    }

    #[test]
    fn an_inline_value_under_the_key_is_refused_with_its_line() {
        let err = edit_values("a: 1\nbase: {x: 1}\n", "base", |t, _| Ok(t.to_owned()), |e| e).unwrap_err();
        assert_eq!(err, NotABlock { line: 2, found: "{x: 1}".into() });
    }
}
