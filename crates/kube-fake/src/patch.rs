//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902), with the API server's edge cases.
//!
//! JSON patch follows `evanphx/json-patch`, which the API server uses: `test` of a missing
//! path against `null` succeeds (kube-runtime's finalizer helper relies on it), a failed
//! operation rejects the whole patch, and the patch is applied to a copy.

use crate::error::Error;
use serde_json::Value;

/// Applies an RFC 7386 merge patch: objects merge recursively, `null` deletes, anything else
/// (arrays included) replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Applies an RFC 6902 patch document. A malformed document is a 400; an operation that
/// does not apply (failed `test`, missing path) is the API server's bare 422.
pub(crate) fn json_patch(doc: &Value, patch: &Value) -> Result<Value, Error> {
    let Value::Array(ops) = patch else {
        return Err(Error::bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch"));
    };
    let mut doc = doc.clone();
    for op in ops {
        let name =
            op.get("op").and_then(Value::as_str).ok_or_else(|| Error::bad_request("Unexpected kind: missing op"))?;
        let path = || -> Result<Vec<String>, Error> {
            let raw = op
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request(format!("operation {name}: missing path")))?;
            parse_pointer(raw)
        };
        let value =
            || op.get("value").cloned().ok_or_else(|| Error::bad_request(format!("operation {name}: missing value")));
        let from = || -> Result<Vec<String>, Error> {
            let raw = op
                .get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request(format!("operation {name}: missing from")))?;
            parse_pointer(raw)
        };
        match name {
            "add" => add(&mut doc, &path()?, value()?)?,
            "remove" => {
                remove(&mut doc, &path()?)?;
            }
            "replace" => {
                let path = path()?;
                remove(&mut doc, &path)?;
                add(&mut doc, &path, value()?)?;
            }
            "move" => {
                let moved = remove(&mut doc, &from()?)?;
                add(&mut doc, &path()?, moved)?;
            }
            "copy" => {
                let copied = get(&doc, &from()?).cloned().ok_or(Error::PatchNotApplicable)?;
                add(&mut doc, &path()?, copied)?;
            }
            "test" => {
                let path = path()?;
                // The parent must exist; a missing leaf reads as null.
                if !path.is_empty() && get(&doc, &path[..path.len() - 1]).is_none() {
                    return Err(Error::PatchNotApplicable);
                }
                let actual = get(&doc, &path).cloned().unwrap_or(Value::Null);
                let expected = op.get("value").cloned().unwrap_or(Value::Null);
                if actual != expected {
                    return Err(Error::PatchNotApplicable);
                }
            }
            other => return Err(Error::bad_request(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(doc)
}

fn parse_pointer(raw: &str) -> Result<Vec<String>, Error> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let rest = raw.strip_prefix('/').ok_or_else(|| Error::bad_request(format!("invalid JSON pointer {raw:?}")))?;
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), Error> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent) {
        Some(Value::Object(map)) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index =
                if last == "-" { items.len() } else { last.parse::<usize>().map_err(|_| Error::PatchNotApplicable)? };
            if index > items.len() {
                return Err(Error::PatchNotApplicable);
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(Error::PatchNotApplicable),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, Error> {
    let (last, parent) = path.split_last().ok_or(Error::PatchNotApplicable)?;
    match get_mut(doc, parent) {
        Some(Value::Object(map)) => map.remove(last).ok_or(Error::PatchNotApplicable),
        Some(Value::Array(items)) => {
            let index = last.parse::<usize>().map_err(|_| Error::PatchNotApplicable)?;
            if index >= items.len() {
                return Err(Error::PatchNotApplicable);
            }
            Ok(items.remove(index))
        }
        _ => Err(Error::PatchNotApplicable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}}));
    }

    #[test]
    fn json_patch_operations() {
        let doc = json!({"metadata": {"name": "x"}, "list": [1, 2, 3]});
        let out = json_patch(
            &doc,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["a"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
                {"op": "replace", "path": "/list/0", "value": 9},
                {"op": "remove", "path": "/list/1"},
                {"op": "copy", "from": "/metadata/name", "path": "/copy"},
                {"op": "move", "from": "/copy", "path": "/moved"},
                {"op": "test", "path": "/metadata/finalizers/1", "value": "b"},
            ]),
        )
        .expect("applies");
        assert_eq!(out, json!({"metadata": {"name": "x", "finalizers": ["a", "b"]}, "list": [9, 3], "moved": "x"}));
    }

    #[test]
    fn json_patch_failures() {
        let doc = json!({"metadata": {"finalizers": ["a"]}});
        let failed_test = json_patch(&doc, &json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "b"}]));
        assert_eq!(failed_test.expect_err("test fails").code(), 422);
        let missing = json_patch(&doc, &json!([{"op": "remove", "path": "/spec/x"}]));
        assert_eq!(missing.expect_err("missing").code(), 422);
        let replace_missing = json_patch(&doc, &json!([{"op": "replace", "path": "/metadata/x", "value": 1}]));
        assert_eq!(replace_missing.expect_err("missing").code(), 422);
        let malformed = json_patch(&doc, &json!({"op": "add"}));
        assert_eq!(malformed.expect_err("not a list").code(), 400);
        let unknown = json_patch(&doc, &json!([{"op": "frobnicate", "path": "/x"}]));
        assert_eq!(unknown.expect_err("unknown op").code(), 400);
    }
}
