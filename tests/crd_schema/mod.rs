//! The fields of a CRD's schema, as paths (`spec.tags.*`, `spec.namespaces.[]`), and what
//! an upgrade from one version of the CRDs to the next may not do to them: drop a field
//! that was not deprecated in the previous release, drop an enum value, require a new
//! field, narrow a bound, or stop serving a version. Shared by tests/crd.rs (the tree
//! against the previous release) and the node upgrade test (which fields an object sets).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

/// A description that starts with this marks a deprecated field: it may be removed in a
/// later minor release (docs/upgrading.md).
pub const DEPRECATED: &str = "Deprecated";

/// The CRDs of a multi-document YAML text (one or more files of `crds/`), by name.
pub fn parse_crds(text: &str) -> BTreeMap<String, Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("CRD YAML"))
        .filter(|crd| crd["kind"] == "CustomResourceDefinition")
        .map(|crd| {
            let name = crd["metadata"]["name"].as_str().expect("name").to_string();
            (name, crd)
        })
        .collect()
}

/// `value` with every number as a float: YAML's 120.0 and JSON's 120 (what Helm and the
/// API server make of it) compare equal.
pub fn numbers_as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The openAPIV3Schema of `version` of a CRD.
pub fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd["spec"]["versions"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == version)
        .map(|v| &v["schema"]["openAPIV3Schema"])
}

/// Every field of `schema` below `prefix`, leaves and objects alike, with its schema:
/// map values are `*`, array items `[]`.
pub fn fields<'a>(schema: &'a Value, prefix: &str) -> BTreeMap<String, &'a Value> {
    let mut out = BTreeMap::new();
    collect(schema, prefix, &mut out);
    out
}

fn collect<'a>(schema: &'a Value, path: &str, out: &mut BTreeMap<String, &'a Value>) {
    out.insert(path.to_string(), schema);
    if let Some(properties) = schema["properties"].as_object() {
        for (name, child) in properties {
            collect(child, &format!("{path}.{name}"), out);
        }
    }
    if schema["additionalProperties"].is_object() {
        collect(&schema["additionalProperties"], &format!("{path}.*"), out);
    }
    if schema["items"].is_object() {
        collect(&schema["items"], &format!("{path}.[]"), out);
    }
}

/// The fields of `schema` a value is written into (not objects or arrays that only
/// hold other fields).
pub fn leaves(schema: &Value, prefix: &str) -> BTreeSet<String> {
    fields(schema, prefix)
        .into_iter()
        .filter(|(_, s)| {
            !s["properties"].is_object()
                && !s["additionalProperties"].is_object()
                && !s["items"].is_object()
        })
        .map(|(path, _)| path)
        .collect()
}

/// The leaf fields `object` sets, read through `schema` (map keys become `*`, array
/// items `[]`), and the fields it sets that `schema` does not know.
pub fn set_fields(
    object: &Value,
    schema: &Value,
    prefix: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut known = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    walk_set(object, schema, prefix, &mut known, &mut unknown);
    (known, unknown)
}

fn walk_set(
    value: &Value,
    schema: &Value,
    path: &str,
    known: &mut BTreeSet<String>,
    unknown: &mut BTreeSet<String>,
) {
    match value {
        Value::Object(map) if schema["properties"].is_object() => {
            for (name, child) in map {
                let child_path = format!("{path}.{name}");
                match schema["properties"].get(name) {
                    Some(child_schema) => {
                        walk_set(child, child_schema, &child_path, known, unknown)
                    }
                    None => {
                        unknown.insert(child_path);
                    }
                }
            }
        }
        Value::Object(map) if schema["additionalProperties"].is_object() => {
            for child in map.values() {
                let child_schema = &schema["additionalProperties"];
                walk_set(child, child_schema, &format!("{path}.*"), known, unknown);
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for item in items {
                walk_set(
                    item,
                    &schema["items"],
                    &format!("{path}.[]"),
                    known,
                    unknown,
                );
            }
        }
        _ => {
            known.insert(path.to_string());
        }
    }
}

/// Drops from `object` what `schema` does not know, as the API server prunes unknown
/// fields of a structural schema.
pub fn prune(object: &mut Value, schema: &Value) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    match object {
        Value::Object(map) if schema["properties"].is_object() => {
            let properties = schema["properties"].as_object().expect("properties");
            map.retain(|name, _| properties.contains_key(name));
            for (name, child) in map.iter_mut() {
                prune(child, &properties[name]);
            }
        }
        Value::Object(map) if schema["additionalProperties"].is_object() => {
            for child in map.values_mut() {
                prune(child, &schema["additionalProperties"]);
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for item in items {
                prune(item, &schema["items"]);
            }
        }
        _ => {}
    }
}

/// A release's version as (major, minor, patch), ignoring a pre-release part.
pub fn semver(version: &str) -> (u64, u64, u64) {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let mut parts = core
        .split('.')
        .map(|p| p.parse::<u64>().expect("numeric version"));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// What makes an object or manifest that the previous CRDs accepted fail, or lose data,
/// under the next ones, one line each. `previous_version` and `next_version` are the
/// releases' versions: a field deprecated in the previous release may go in a later
/// minor (or major) release, never in a patch release.
pub fn breaking_changes(
    previous: &BTreeMap<String, Value>,
    next: &BTreeMap<String, Value>,
    previous_version: &str,
    next_version: &str,
) -> Vec<String> {
    let (pmaj, pmin, _) = semver(previous_version);
    let (nmaj, nmin, _) = semver(next_version);
    let new_minor = (nmaj, nmin) > (pmaj, pmin);
    let mut out = Vec::new();
    for (name, old) in previous {
        let Some(new) = next.get(name) else {
            out.push(format!("{name}: the CRD is gone"));
            continue;
        };
        for field in ["group", "scope"] {
            if old["spec"][field] != new["spec"][field] {
                out.push(format!("{name}: spec.{field} changed"));
            }
        }
        if old["spec"]["names"]["kind"] != new["spec"]["names"]["kind"]
            || old["spec"]["names"]["plural"] != new["spec"]["names"]["plural"]
        {
            out.push(format!("{name}: its kind or plural changed"));
        }
        for version in old["spec"]["versions"].as_array().into_iter().flatten() {
            let id = version["name"].as_str().unwrap_or_default();
            if version["served"] != true {
                continue;
            }
            let Some(new_schema) = new["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == id && v["served"] == true)
                .map(|v| &v["schema"]["openAPIV3Schema"])
            else {
                out.push(format!("{name}: version {id} is no longer served"));
                continue;
            };
            let old_fields = fields(&version["schema"]["openAPIV3Schema"], id);
            let new_fields = fields(new_schema, id);
            for (path, old_field) in &old_fields {
                let Some(new_field) = new_fields.get(path) else {
                    let deprecated = old_field["description"]
                        .as_str()
                        .is_some_and(|d| d.starts_with(DEPRECATED));
                    // A field inside a removed deprecated one goes with it.
                    let parent_deprecated = old_fields.iter().any(|(p, f)| {
                        path.starts_with(&format!("{p}."))
                            && f["description"]
                                .as_str()
                                .is_some_and(|d| d.starts_with(DEPRECATED))
                    });
                    if !(deprecated || parent_deprecated) {
                        out.push(format!(
                            "{name} {path}: removed without being deprecated in {previous_version}"
                        ));
                    } else if !new_minor {
                        out.push(format!(
                            "{name} {path}: removed in {next_version}, a patch release of {previous_version}"
                        ));
                    }
                    continue;
                };
                out.extend(
                    narrowed(old_field, new_field)
                        .into_iter()
                        .map(|what| format!("{name} {path}: {what}")),
                );
            }
        }
    }
    out
}

/// How `new` accepts less than `old` did, for one field (its own keywords, not its
/// children's).
fn narrowed(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if old["type"] != new["type"] {
        out.push(format!("type {} became {}", old["type"], new["type"]));
    }
    if let Some(values) = new["enum"].as_array() {
        let old_values = old["enum"].as_array();
        for value in old_values.into_iter().flatten() {
            if !values.contains(value) {
                out.push(format!("enum value {value} dropped"));
            }
        }
        if old_values.is_none() {
            out.push("became an enum".to_string());
        }
    }
    let old_required: BTreeSet<&str> = strings(&old["required"]);
    for field in strings(&new["required"]) {
        if !old_required.contains(field) {
            out.push(format!("{field} became required"));
        }
    }
    for bound in ["minimum", "minLength", "minItems", "minProperties"] {
        if let Some(new_bound) = new[bound].as_f64()
            && old[bound]
                .as_f64()
                .is_none_or(|old_bound| new_bound > old_bound)
        {
            out.push(format!("{bound} raised to {new_bound}"));
        }
    }
    for bound in ["maximum", "maxLength", "maxItems", "maxProperties"] {
        if let Some(new_bound) = new[bound].as_f64()
            && old[bound]
                .as_f64()
                .is_none_or(|old_bound| new_bound < old_bound)
        {
            out.push(format!("{bound} lowered to {new_bound}"));
        }
    }
    if old["pattern"] != new["pattern"] && !new["pattern"].is_null() {
        out.push(format!("pattern changed to {}", new["pattern"]));
    }
    if old["nullable"] == true && new["nullable"] != true {
        out.push("no longer nullable".to_string());
    }
    let old_rules: BTreeSet<&str> = old["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["rule"].as_str())
        .collect();
    for rule in new["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let text = rule["rule"].as_str().unwrap_or_default();
        if !old_rules.contains(text) {
            out.push(format!("validation rule added: {text}"));
        }
    }
    out
}

fn strings(value: &Value) -> BTreeSet<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}
