//! The filters that quote a value for the language of the file it lands in, so a template
//! never writes quotes by hand: `yaml` (a YAML double-quoted scalar, or a flow collection of
//! them) and `go_string` (a Go interpreted string literal). Whatever the value holds — `#`,
//! `: `, quotes, backslashes, newlines, `{{`, any Unicode — it reads back as itself.

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use std::fmt::Write as _;

/// Adds the quoting filters to `env`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("yaml", yaml);
    env.add_filter("go_string", go_string);
}

/// `value` as YAML: a string as a double-quoted scalar, numbers and booleans plain, none as
/// `null`, sequences and maps as flow collections of the same.
fn yaml(value: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_yaml(&mut out, value)?;
    Ok(out)
}

fn write_yaml(out: &mut String, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::String => out.push_str(&yaml_string(value.as_str().unwrap_or_default())),
        ValueKind::Number => out.push_str(&value.to_string()),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::None => out.push_str("null"),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_yaml(out, &item)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&yaml_string(&key.to_string()));
                out.push_str(": ");
                write_yaml(out, &value.get_item(&key)?)?;
            }
            out.push('}');
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the yaml filter cannot quote a {other} value"),
            ));
        }
    }
    Ok(())
}

/// A YAML double-quoted scalar holding exactly `s`: every character YAML does not print
/// as itself (C0 and C1 controls, DEL, the line and paragraph separators YAML 1.1 breaks
/// lines at, the byte-order mark, noncharacters) is escaped, as are `"` and `\`.
pub fn yaml_string(s: &str) -> String {
    let unprintable =
        |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}');
    double_quoted(s, unprintable, Hex::Upper)
}

/// `value`, a string, as a Go interpreted string literal.
fn go_string(value: &Value) -> Result<String, Error> {
    let Some(s) = value.as_str() else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("the go_string filter quotes strings, not a {} value", value.kind()),
        ));
    };
    // Go compilers may refuse a NUL or a byte-order mark in source text.
    Ok(double_quoted(s, |c| c.is_control() || c == '\u{feff}', Hex::Lower))
}

/// How a `\u` escape writes its four hex digits.
#[derive(Clone, Copy)]
enum Hex {
    Upper,
    Lower,
}

/// `s` between double quotes as YAML and Go both read them: `"` and `\` escaped, newline, tab
/// and carriage return as `\n`, `\t`, `\r`, and every other character `escaped` picks as `\u`
/// and four hex digits.
fn double_quoted(s: &str, escaped: impl Fn(char) -> bool, hex: Hex) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if escaped(c) => {
                let _ = match hex {
                    Hex::Upper => write!(out, "\\u{:04X}", u32::from(c)),
                    Hex::Lower => write!(out, "\\u{:04x}", u32::from(c)),
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, value: Value) -> String {
        let mut env = Environment::new();
        register(&mut env);
        env.render_str(template, minijinja::context! { v => value }).unwrap()
    }

    #[test]
    fn yaml_quotes_strings_and_writes_the_rest_plain() {
        assert_eq!(render("{{ v | yaml }}", Value::from("a: b # c")), r#""a: b # c""#);
        assert_eq!(
            render("{{ v | yaml }}", Value::from("say \"hi\"\\\n\u{0}\u{85}\u{2028}")),
            r#""say \"hi\"\\\n\u0000\u0085\u2028""#
        );
        assert_eq!(render("{{ v | yaml }}", Value::from(8080)), "8080");
        assert_eq!(render("{{ v | yaml }}", Value::from(true)), "true");
        assert_eq!(render("{{ v | yaml }}", Value::from(())), "null");
        assert_eq!(render("{{ v | yaml }}", Value::from(vec!["a", "b: c"])), r#"["a", "b: c"]"#);
    }

    #[test]
    fn go_string_quotes_strings_only() {
        assert_eq!(render("{{ v | go_string }}", Value::from("a \"b\" \\ c\n\u{0}")), r#""a \"b\" \\ c\n\u0000""#);
        let mut env = Environment::new();
        register(&mut env);
        assert!(env.render_str("{{ v | go_string }}", minijinja::context! { v => 1 }).is_err());
    }
}
