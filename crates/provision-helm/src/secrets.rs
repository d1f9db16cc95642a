//! Putting sealed values into a values file: `orchestrator secret seal` rewrites the base
//! chart's `sealedSecrets` block of `values-<env>.yaml` — under the base chart's key, or at the
//! top level of a file written before the infra repository was a chart of its own (see
//! [`crate::nest`]) — and leaves every other line as it was.
//!
//! The block is read, the secret's entry added or its keys replaced (other keys and entries,
//! and fields such as `mountPath`, are kept), `enabled` set, and the block written back in
//! place: comments inside that one block are not kept, comments anywhere else are.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const KEY: &str = "sealedSecrets";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsEditError {
    #[error("the values file is not valid YAML: {0}")]
    Yaml(String),
    #[error("`sealedSecrets` in the values file is not what the chart expects: {0}")]
    Shape(String),
    #[error(
        "secret {name} holds keys sealed {existing} ({keys}); seal them again with this scope ({new}) too, or keep scope {existing}: the controller unseals a whole secret with one scope"
    )]
    ScopeChange { name: String, existing: String, new: String, keys: String },
}

/// One secret's newly sealed values.
#[derive(Debug, Clone)]
pub struct SealedValues<'a> {
    pub name: &'a str,
    /// `strict`, `namespace-wide` or `cluster-wide`.
    pub scope: &'a str,
    /// Key to base64 ciphertext.
    pub encrypted_data: &'a BTreeMap<String, String>,
}

/// An entry of `sealedSecrets.secrets`, with the fields this edit touches first and whatever
/// else it holds kept as it is.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env_from: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    encrypted_data: BTreeMap<String, String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Block {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    secrets: Vec<Entry>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Serialize)]
struct Wrapper<'a> {
    #[serde(rename = "sealedSecrets")]
    block: &'a Block,
}

/// `values` with `sealed` merged into the base chart's `sealedSecrets` block (appended to the
/// base chart's values when they have none). The base chart's values are those under its key
/// `chart`, or the top level of a file without that key. A new secret is used as environment
/// (`envFrom: true`).
pub fn put_sealed_values(values: &str, chart: &str, sealed: &SealedValues<'_>) -> Result<String, SecretsEditError> {
    crate::nest::edit_values(
        values,
        chart,
        |values, _| put_top_level(values, sealed),
        |e| {
            SecretsEditError::Shape(format!("line {}: `{chart}:` is not a block of keys (found {:?})", e.line, e.found))
        },
    )
}

/// `values` with `sealed` merged into the top-level `sealedSecrets` block.
fn put_top_level(values: &str, sealed: &SealedValues<'_>) -> Result<String, SecretsEditError> {
    let lines: Vec<&str> = values.split_inclusive('\n').collect();
    let span = block_span(&lines);
    let mut block = match span {
        Some((start, end)) => {
            let text: String = lines[start..end].concat();
            let mut doc: Map<String, Value> =
                serde_saphyr::from_str(&text).map_err(|e| SecretsEditError::Yaml(e.to_string()))?;
            match doc.remove(KEY) {
                None | Some(Value::Null) => Block::default(),
                Some(v) => serde_json::from_value(v).map_err(|e| SecretsEditError::Shape(e.to_string()))?,
            }
        }
        None => Block::default(),
    };
    merge(&mut block, sealed)?;
    // Ciphertexts stay plain one-line scalars rather than folded blocks.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    let text = serde_saphyr::to_string_with_options(&Wrapper { block: &block }, options)
        .map_err(|e| SecretsEditError::Yaml(e.to_string()))?;
    let mut out = String::with_capacity(values.len() + text.len());
    match span {
        Some((start, end)) => {
            out.extend(lines[..start].iter().copied());
            out.push_str(&text);
            out.extend(lines[end..].iter().copied());
        }
        None => {
            out.push_str(values);
            if !values.is_empty() && !values.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("# Sealed with `orchestrator secret seal`; only the cluster's controller can unseal them.\n");
            out.push_str(&text);
        }
    }
    Ok(out)
}

fn merge(block: &mut Block, sealed: &SealedValues<'_>) -> Result<(), SecretsEditError> {
    block.enabled = true;
    let scope = (sealed.scope != "strict").then(|| sealed.scope.to_owned());
    let Some(entry) = block.secrets.iter_mut().find(|e| e.name == sealed.name) else {
        block.secrets.push(Entry {
            name: sealed.name.to_owned(),
            env_from: Some(true),
            scope,
            encrypted_data: sealed.encrypted_data.clone(),
            rest: Map::new(),
        });
        return Ok(());
    };
    let kept: Vec<&str> =
        entry.encrypted_data.keys().filter(|k| !sealed.encrypted_data.contains_key(*k)).map(String::as_str).collect();
    if entry.scope != scope && !kept.is_empty() {
        return Err(SecretsEditError::ScopeChange {
            name: sealed.name.to_owned(),
            existing: entry.scope.clone().unwrap_or_else(|| "strict".to_owned()),
            new: sealed.scope.to_owned(),
            keys: kept.join(", "),
        });
    }
    entry.scope = scope;
    entry.encrypted_data.extend(sealed.encrypted_data.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(())
}

/// The lines `[start, end)` of the top-level `sealedSecrets` key: its line and every line
/// after it up to the next top-level key, less the blank and comment lines just before that
/// key (they belong to it).
fn block_span(lines: &[&str]) -> Option<(usize, usize)> {
    let start = lines.iter().position(|l| {
        l.strip_prefix(KEY).is_some_and(|rest| rest.trim_start().starts_with(':')) && !l.starts_with(' ')
    })?;
    let top_level_key = |l: &str| {
        let first = l.chars().next();
        first.is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-') || l.starts_with("---")
    };
    let next = lines[start + 1..].iter().position(|l| top_level_key(l)).map_or(lines.len(), |i| start + 1 + i);
    let mut end = next;
    while end > start + 1 && {
        let t = lines[end - 1].trim();
        t.is_empty() || (t.starts_with('#') && lines[end - 1].starts_with('#'))
    } {
        end -= 1;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn put(values: &str, name: &str, scope: &str, pairs: &[(&str, &str)]) -> Result<String, SecretsEditError> {
        put_sealed_values(values, BASE, &SealedValues { name, scope, encrypted_data: &data(pairs) })
    }

    const BASE: &str = "ms-base-chart";

    #[test]
    fn under_the_base_charts_key_the_block_is_added_and_edited_there() {
        let values = "# Values for qa.\nms-base-chart:\n  replicaCount: 1\n  ingress:\n    enabled: true  # on in qa\n\n# Team's own.\nextra: 1\n";
        let out = put(values, "demo-secrets", "strict", &[("A", "1")]).unwrap();
        assert_eq!(
            out,
            "# Values for qa.\nms-base-chart:\n  replicaCount: 1\n  ingress:\n    enabled: true  # on in qa\n  # Sealed with `orchestrator secret seal`; only the cluster's controller can unseal them.\n  sealedSecrets:\n    enabled: true\n    secrets:\n    - name: demo-secrets\n      envFrom: true\n      encryptedData:\n        A: \"1\"\n\n# Team's own.\nextra: 1\n"
        );
        let again = put(&out, "demo-secrets", "strict", &[("B", "2")]).unwrap();
        let doc: Value = serde_saphyr::from_str(&again).unwrap();
        assert_eq!(
            doc["ms-base-chart"]["sealedSecrets"]["secrets"][0]["encryptedData"],
            serde_json::json!({"A": "1", "B": "2"})
        );
        assert_eq!(doc["ms-base-chart"]["ingress"]["enabled"], true);
        assert!(doc.get("sealedSecrets").is_none(), "{again}");
        assert!(again.ends_with("\n\n# Team's own.\nextra: 1\n"), "{again}");
    }

    #[test]
    fn an_empty_file_gets_the_block_under_the_base_charts_key() {
        let out = put("# Values for qa.\n", "s", "strict", &[("K", "v")]).unwrap();
        let doc: Value = serde_saphyr::from_str(&out).unwrap();
        assert_eq!(doc["ms-base-chart"]["sealedSecrets"]["secrets"][0]["encryptedData"]["K"], "v");
    }

    const ENV_VALUES: &str = "# Generated by the orchestrator.\n# Values for qa.\nreplicaCount: 1\nenv:\n- name: ENVIRONMENT\n  value: qa\ningress:\n  enabled: true  # on in qa\n  host: demo-qa.apps.example.com\n";

    #[test]
    fn a_first_secret_is_appended_and_nothing_else_changes() {
        let out = put(ENV_VALUES, "demo-secrets", "strict", &[("DB_PASSWORD", "AgBy"), ("API_KEY", "AgCx")]).unwrap();
        assert!(out.starts_with(ENV_VALUES), "{out}");
        let added = &out[ENV_VALUES.len()..];
        assert_eq!(
            added,
            "# Sealed with `orchestrator secret seal`; only the cluster's controller can unseal them.\nsealedSecrets:\n  enabled: true\n  secrets:\n  - name: demo-secrets\n    envFrom: true\n    encryptedData:\n      API_KEY: AgCx\n      DB_PASSWORD: AgBy\n"
        );
    }

    #[test]
    fn sealing_again_replaces_and_adds_keys_and_keeps_the_rest_of_the_block_and_file() {
        let first = put(ENV_VALUES, "demo-secrets", "strict", &[("A", "old"), ("B", "kept")]).unwrap();
        // A team mounts the secret too, and adds a key after the block.
        let edited = first.replace("    envFrom: true\n", "    envFrom: true\n    mountPath: /etc/demo\n")
            + "\n# Team's own setting.\npodAnnotations:\n  team: a\n";
        let second = put(&edited, "demo-secrets", "strict", &[("A", "new"), ("C", "added")]).unwrap();
        let values: Value = serde_saphyr::from_str(&second).unwrap();
        let entry = &values["sealedSecrets"]["secrets"][0];
        assert_eq!(entry["encryptedData"], serde_json::json!({"A": "new", "B": "kept", "C": "added"}));
        assert_eq!(entry["mountPath"], "/etc/demo");
        assert!(second.ends_with("\n# Team's own setting.\npodAnnotations:\n  team: a\n"), "{second}");
        assert!(second.starts_with(ENV_VALUES), "{second}");
        assert_eq!(second.matches("sealedSecrets:").count(), 1);
    }

    #[test]
    fn other_secrets_stay_and_a_block_in_the_middle_is_edited_in_place() {
        let values = "replicaCount: 2\nsealedSecrets:\n  enabled: false\n  secrets:\n  - name: existing\n    mountPath: /etc/x\n\n# Ingress for qa.\ningress:\n  enabled: true\n";
        let out = put(values, "demo-secrets", "namespace-wide", &[("K", "v")]).unwrap();
        assert_eq!(
            out,
            "replicaCount: 2\nsealedSecrets:\n  enabled: true\n  secrets:\n  - name: existing\n    mountPath: /etc/x\n  - name: demo-secrets\n    envFrom: true\n    scope: namespace-wide\n    encryptedData:\n      K: v\n\n# Ingress for qa.\ningress:\n  enabled: true\n"
        );
    }

    #[test]
    fn a_scope_change_that_would_strand_other_keys_is_refused() {
        let first = put(ENV_VALUES, "s", "strict", &[("A", "1"), ("B", "2")]).unwrap();
        let err = put(&first, "s", "cluster-wide", &[("A", "3")]).unwrap_err();
        assert!(matches!(&err, SecretsEditError::ScopeChange { keys, .. } if keys == "B"), "{err:?}");
        // Sealing every key again with the new scope is fine.
        let out = put(&first, "s", "cluster-wide", &[("A", "3"), ("B", "4")]).unwrap();
        assert!(out.contains("scope: cluster-wide"), "{out}");
    }

    #[test]
    fn a_block_the_chart_would_refuse_is_reported() {
        let err = put("sealedSecrets:\n  secrets: yes please\n", "s", "strict", &[("A", "1")]).unwrap_err();
        assert!(matches!(err, SecretsEditError::Shape(_)), "{err:?}");
        let err = put("sealedSecrets: [\n", "s", "strict", &[("A", "1")]).unwrap_err();
        assert!(matches!(err, SecretsEditError::Yaml(_)), "{err:?}");
    }

    #[test]
    fn long_ciphertexts_stay_on_one_line() {
        let long = "A".repeat(700);
        let out = put("", "s", "strict", &[("K", &long)]).unwrap();
        assert!(out.contains(&format!("\n        K: {long}\n")), "{out}");
    }
}
