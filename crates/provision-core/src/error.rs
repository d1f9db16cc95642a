//! Errors told on one line: an error and its causes, for journals, logs and answers.

/// `e` and each of its sources, joined by `: `; a source whose text the line already ends
/// with (some errors repeat their source in their own message) is not said twice.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let said = s.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Plain(String);

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Wrapped {
        text: String,
        #[source]
        source: Plain,
    }

    #[test]
    fn causes_follow_once_each() {
        let wrapped = Wrapped { text: "cannot send".into(), source: Plain("connection refused".into()) };
        assert_eq!(super::chain(&wrapped), "cannot send: connection refused");
        let repeating =
            Wrapped { text: "cannot send: connection refused".into(), source: Plain("connection refused".into()) };
        assert_eq!(super::chain(&repeating), "cannot send: connection refused");
    }
}
