//! Flux's image setter marker: the YAML comment `# {"$imagepolicy": "<namespace>:<name>"}` at
//! the end of an `image:` line tells image-automation-controller (strategy `Setters`) to write
//! the ImagePolicy `<namespace>/<name>`'s latest image, `<repository>:<tag>`, as that value.
//!
//! A comment is not part of the value, so the manifest is serialized first and the marker is
//! then appended to the one line holding the image: only that line changes. The same reading
//! of a line finds markers again ([`image_markers`]), for checks.

/// Why an `image:` line could not be marked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    #[error("no `image: {image}` line")]
    NotFound { image: String },
    #[error("{count} `image: {image}` lines, where the marker must go on exactly one")]
    Ambiguous { image: String, count: usize },
    #[error("the `image: {image}` line already ends in a comment")]
    Commented { image: String },
    #[error("{image:?} cannot be an image reference on a marked line (empty, or with '#' or a line break)")]
    Unmarkable { image: String },
}

/// The comment text, without `# `: `{"$imagepolicy": "<namespace>:<name>"}`.
pub fn image_policy_marker(namespace: &str, name: &str) -> String {
    format!(r#"{{"$imagepolicy": "{namespace}:{name}"}}"#)
}

/// An `image:` line of a manifest, read as YAML reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLine {
    /// Zero-based line number.
    pub line: usize,
    /// The value, unquoted.
    pub image: String,
    /// The comment after the value, without `#` and surrounding blanks.
    pub comment: Option<String>,
}

impl ImageLine {
    /// The ImagePolicy `(namespace, name)` the comment names, if it is a well-formed setter
    /// marker for the whole image (not the `:tag` or `:name` variants).
    pub fn policy(&self) -> Option<(&str, &str)> {
        let inner = self.comment.as_deref()?.strip_prefix(r#"{"$imagepolicy": ""#)?.strip_suffix(r#""}"#)?;
        let (namespace, name) = inner.split_once(':')?;
        let label = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        (label(namespace) && label(name)).then_some((namespace, name))
    }
}

/// Every `image:` line of `yaml` (a block-style mapping key `image`, possibly the first key of
/// a sequence item), with its value and comment.
pub fn image_lines(yaml: &str) -> Vec<ImageLine> {
    yaml.lines().enumerate().filter_map(|(line, text)| read_image_line(text).map(|l| ImageLine { line, ..l })).collect()
}

/// The `image:` lines of `yaml` that carry a well-formed setter marker.
pub fn image_markers(yaml: &str) -> Vec<ImageLine> {
    image_lines(yaml).into_iter().filter(|l| l.policy().is_some()).collect()
}

fn read_image_line(text: &str) -> Option<ImageLine> {
    let mut rest = text.trim_start_matches(' ');
    while let Some(item) = rest.strip_prefix("- ") {
        rest = item.trim_start_matches(' ');
    }
    let rest = rest.strip_prefix("image:")?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    // Image references hold no `#` (refused when marking), so the first ` #` starts the comment.
    let (value, comment) = match rest.split_once(" #") {
        Some((value, comment)) => (value, Some(comment.trim().to_owned())),
        None => (rest, None),
    };
    let value = value.trim_end();
    let image = if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        // Escapes never occur in an image reference; a value with one is not ours.
        if inner.contains('\\') {
            return None;
        }
        inner.to_owned()
    } else {
        value.to_owned()
    };
    Some(ImageLine { line: 0, image, comment })
}

/// `yaml` with `# {"$imagepolicy": "<namespace>:<name>"}` appended to the one `image:` line
/// whose value is `image`; every other byte is kept.
pub fn mark_image_line(yaml: &str, image: &str, namespace: &str, name: &str) -> Result<String, MarkerError> {
    if image.is_empty() || image.contains(['#', '\n', '\r']) {
        return Err(MarkerError::Unmarkable { image: image.to_owned() });
    }
    let matching: Vec<ImageLine> = image_lines(yaml).into_iter().filter(|l| l.image == image).collect();
    let target = match matching.as_slice() {
        [] => return Err(MarkerError::NotFound { image: image.to_owned() }),
        [one] if one.comment.is_some() => return Err(MarkerError::Commented { image: image.to_owned() }),
        [one] => one.line,
        many => return Err(MarkerError::Ambiguous { image: image.to_owned(), count: many.len() }),
    };
    let marker = image_policy_marker(namespace, name);
    let mut out = String::with_capacity(yaml.len() + marker.len() + 3);
    for (i, line) in yaml.split_inclusive('\n').enumerate() {
        if i == target {
            let (text, end) = match line.strip_suffix("\r\n") {
                Some(text) => (text, "\r\n"),
                None => line.strip_suffix('\n').map_or((line, ""), |text| (text, "\n")),
            };
            out.push_str(text.trim_end_matches(' '));
            out.push_str(" # ");
            out.push_str(&marker);
            out.push_str(end);
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "\
spec:
  template:
    spec:
      containers:
      - name: payments
        image: localhost:5000/platform/payments:latest
        ports:
        - name: http
      - name: sidecar
        image: 'busybox:1.36'
";

    #[test]
    fn only_the_image_line_changes() {
        let marked =
            mark_image_line(DEPLOYMENT, "localhost:5000/platform/payments:latest", "flux-system", "payments-qa")
                .unwrap();
        let (before, after): (Vec<&str>, Vec<&str>) = (DEPLOYMENT.lines().collect(), marked.lines().collect());
        assert_eq!(before.len(), after.len());
        let changed: Vec<usize> = (0..before.len()).filter(|&i| before[i] != after[i]).collect();
        assert_eq!(changed, [5]);
        assert_eq!(
            after[5],
            r#"        image: localhost:5000/platform/payments:latest # {"$imagepolicy": "flux-system:payments-qa"}"#
        );
        assert!(marked.ends_with("image: 'busybox:1.36'\n"));
    }

    #[test]
    fn a_marked_line_reads_back_with_its_policy_and_value() {
        let marked = mark_image_line(DEPLOYMENT, "busybox:1.36", "flux-system", "sidecar-qa").unwrap();
        let markers = image_markers(&marked);
        assert_eq!(markers.len(), 1);
        assert_eq!(markers[0].line, 9);
        assert_eq!(markers[0].image, "busybox:1.36");
        assert_eq!(markers[0].policy(), Some(("flux-system", "sidecar-qa")));
        // Quoted values, a line without a final newline, and CRLF line ends are kept.
        let crlf = "a: 1\r\nimage: \"x/y:1\"\r\nb: 2";
        assert_eq!(
            mark_image_line(crlf, "x/y:1", "ns", "p").unwrap(),
            "a: 1\r\nimage: \"x/y:1\" # {\"$imagepolicy\": \"ns:p\"}\r\nb: 2"
        );
        assert_eq!(
            mark_image_line("image: x/y:1", "x/y:1", "ns", "p").unwrap(),
            r#"image: x/y:1 # {"$imagepolicy": "ns:p"}"#
        );
    }

    #[test]
    fn missing_repeated_or_commented_lines_are_refused() {
        assert_eq!(
            mark_image_line(DEPLOYMENT, "localhost:5000/platform/other:latest", "ns", "p"),
            Err(MarkerError::NotFound { image: "localhost:5000/platform/other:latest".into() })
        );
        let twice = format!("{DEPLOYMENT}      - name: again\n        image: busybox:1.36\n");
        assert_eq!(
            mark_image_line(&twice, "busybox:1.36", "ns", "p"),
            Err(MarkerError::Ambiguous { image: "busybox:1.36".into(), count: 2 })
        );
        let marked = mark_image_line(DEPLOYMENT, "busybox:1.36", "ns", "p").unwrap();
        assert_eq!(
            mark_image_line(&marked, "busybox:1.36", "ns", "p"),
            Err(MarkerError::Commented { image: "busybox:1.36".into() })
        );
        assert!(matches!(mark_image_line(DEPLOYMENT, "a#b", "ns", "p"), Err(MarkerError::Unmarkable { .. })));
        // `imagePullPolicy:` and `images:` are other keys.
        assert!(image_lines("imagePullPolicy: Always\nimages: []\n").is_empty());
    }

    #[test]
    fn malformed_markers_are_not_markers() {
        for comment in [
            r#"{"$imagepolicy": "flux-system"}"#,
            r#"{"$imagepolicy": "flux-system:payments-qa:tag"}"#,
            r#"{"$imagepolicy":"flux-system:payments-qa"}"#,
            r#"{"$imagepolicy": "Flux:payments"}"#,
            r#"{"$imagepolicy": ":payments"}"#,
            "imagepolicy flux-system:payments-qa",
        ] {
            let yaml = format!("image: x/y:1 # {comment}\n");
            assert_eq!(image_lines(&yaml).len(), 1, "{yaml}");
            assert!(image_markers(&yaml).is_empty(), "{yaml}");
        }
    }
}
