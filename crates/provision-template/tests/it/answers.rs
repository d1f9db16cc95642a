//! Answers: defaults, conversions, types and constraints, unknown names, all problems at once.

use crate::support::{blueprint, ctx};
use provision_template::{AnswerValue, Blueprint};
use serde_json::json;
use std::collections::BTreeMap;

const PARAMETERS: &str = r#"
[[parameters]]
name = "go_module"
type = "string"
default = "example.com/{{ name }}"
pattern = "^[a-z0-9./_-]+$"

[[parameters]]
name = "port"
type = "integer"
default = 8080
min = 1
max = 65535

[[parameters]]
name = "metrics"
type = "bool"
default = true

[[parameters]]
name = "flavour"
type = "choice"
choices = ["plain", "grpc"]
default = "plain"

[[parameters]]
name = "team_email"
type = "string"
required = true

[[parameters]]
name = "notes"
type = "string"
"#;

fn bp() -> Blueprint {
    blueprint(PARAMETERS, &[("app/x", "x")])
}

fn resolve(given: serde_json::Value) -> Result<BTreeMap<String, AnswerValue>, Vec<(String, &'static str)>> {
    let given: BTreeMap<String, serde_json::Value> = serde_json::from_value(given).unwrap();
    bp().resolve_answers(&given, &ctx("demo"))
        .map_err(|e| e.problems().iter().map(|p| (p.field.clone(), p.rule)).collect())
}

#[test]
fn defaults_fill_what_is_not_given() {
    let answers = resolve(json!({"team_email": "a@example.com"})).unwrap();
    let expected: BTreeMap<String, AnswerValue> = [
        ("go_module", AnswerValue::String("example.com/demo".into())),
        ("port", AnswerValue::Integer(8080)),
        ("metrics", AnswerValue::Bool(true)),
        ("flavour", AnswerValue::String("plain".into())),
        ("team_email", AnswerValue::String("a@example.com".into())),
        ("notes", AnswerValue::String(String::new())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(answers, expected);
}

#[test]
fn given_values_win_and_text_is_converted() {
    let answers =
        resolve(json!({"team_email": "t", "port": "9090", "metrics": "false", "flavour": "grpc", "go_module": null}))
            .unwrap();
    assert_eq!(answers["port"], AnswerValue::Integer(9090));
    assert_eq!(answers["metrics"], AnswerValue::Bool(false));
    assert_eq!(answers["flavour"], AnswerValue::String("grpc".into()));
    // null means "not given".
    assert_eq!(answers["go_module"], AnswerValue::String("example.com/demo".into()));
}

#[test]
fn each_rule_is_reported() {
    let one = |v: serde_json::Value| resolve(v).unwrap_err();
    let with_email = |mut v: serde_json::Value| {
        v["team_email"] = json!("t");
        v
    };
    assert_eq!(one(json!({})), [("parameters.team_email".into(), "required")]);
    assert_eq!(one(with_email(json!({"port": "abc"}))), [("parameters.port".into(), "type")]);
    assert_eq!(one(with_email(json!({"port": 1.5}))), [("parameters.port".into(), "type")]);
    assert_eq!(one(with_email(json!({"metrics": 1}))), [("parameters.metrics".into(), "type")]);
    assert_eq!(one(with_email(json!({"go_module": 5}))), [("parameters.go_module".into(), "type")]);
    assert_eq!(one(with_email(json!({"go_module": "Not Valid!"}))), [("parameters.go_module".into(), "pattern")]);
    assert_eq!(one(with_email(json!({"flavour": "rest"}))), [("parameters.flavour".into(), "choice")]);
    assert_eq!(one(with_email(json!({"port": 0}))), [("parameters.port".into(), "minimum")]);
    assert_eq!(one(with_email(json!({"port": 70000}))), [("parameters.port".into(), "maximum")]);
    assert_eq!(one(with_email(json!({"colour": "blue"}))), [("parameters.colour".into(), "unknown")]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let given: BTreeMap<String, serde_json::Value> = serde_json::from_value(json!({
        "port": 0, "flavour": "rest", "go_module": "UPPER", "metrics": "yes", "colour": "blue", "name": "x"
    }))
    .unwrap();
    let err = bp().resolve_answers(&given, &ctx("demo")).unwrap_err();
    let mut fields: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "parameters.colour",
            "parameters.flavour",
            "parameters.go_module",
            "parameters.metrics",
            "parameters.name",
            "parameters.port",
            "parameters.team_email",
        ]
    );
    let text = err.to_string();
    assert!(text.contains("less than the minimum 1") && text.contains("one of: plain, grpc"), "{text}");
    assert!(text.contains("blueprint tiny takes go_module, port, metrics, flavour, team_email, notes"), "{text}");
}

#[test]
fn answers_serialize_as_plain_values() {
    let answers = resolve(json!({"team_email": "t"})).unwrap();
    let json = serde_json::to_value(&answers).unwrap();
    assert_eq!(json["port"], json!(8080));
    assert_eq!(json["metrics"], json!(true));
    let back: BTreeMap<String, AnswerValue> = serde_json::from_value(json).unwrap();
    assert_eq!(back, answers);
}
