//! A manifest checked as the API server checks it on `kubectl apply`, against the very
//! schema the CRD carries (`api::crds()`): unknown fields (kubectl's default strict field
//! validation), types, required fields, enums, patterns, lengths, ranges and sizes, the
//! object's name, then the CEL rules (kube's own CEL crate; transition rules such as
//! immutability only against the live object, as on an update). The messages follow the
//! API server's.

use kube_cel::Validator;
use regex::Regex;
use serde_json::{Value, json};

/// One field the API server would refuse, as it words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError(pub String);

/// Why the API server would refuse a manifest: fields it does not know (kubectl's strict
/// field validation stops at these), or values its schema refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownFields(Vec<String>),
    Invalid(Vec<FieldError>),
}

impl Refusal {
    /// The message `kubectl apply` shows for it.
    pub fn message(&self, kind: &str, version: &str, name: &str) -> String {
        match self {
            Refusal::UnknownFields(paths) => {
                let fields: Vec<String> = paths
                    .iter()
                    .map(|p| format!("unknown field \"{p}\""))
                    .collect();
                format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                    fields.join(", ")
                )
            }
            Refusal::Invalid(errors) => refusal(kind, name, errors),
        }
    }
}

/// The OpenAPI schema of `kind` in the CRDs this operator serves.
pub fn schema_of(kind: &str) -> Option<Value> {
    let crds = crate::api::crds().ok()?;
    crds.iter().find_map(|(_, yaml)| {
        let crd: Value = serde_yaml_ng::from_str(yaml).ok()?;
        (crd["spec"]["names"]["kind"] == kind)
            .then(|| crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone())
    })
}

/// Why the API server would refuse `object` (of the kind `schema` describes), `old` being
/// the live object for transition rules; `Ok` when it would accept it.
pub fn validate(schema: &Value, object: &Value, old: Option<&Value>) -> Result<(), Refusal> {
    let mut errors = Vec::new();
    check_metadata(object, &mut errors);
    for (field, value) in object.as_object().into_iter().flatten() {
        if ["apiVersion", "kind", "metadata"].contains(&field.as_str()) {
            continue;
        }
        match schema["properties"].get(field) {
            Some(sub) => walk(sub, value, field, &mut errors),
            None => errors.push(unknown(field)),
        }
    }
    for field in required(schema) {
        if object.get(field).is_none() {
            errors.push(FieldError(format!("{field}: Required value")));
        }
    }
    let (unknown, mut invalid): (Vec<FieldError>, Vec<FieldError>) =
        errors.into_iter().partition(|e| e.0.starts_with(UNKNOWN));
    if !unknown.is_empty() {
        let paths = unknown
            .into_iter()
            .map(|e| e.0.trim_start_matches(UNKNOWN).to_string())
            .collect();
        return Err(Refusal::UnknownFields(paths));
    }
    // As the API server does, CEL rules only once the structure is right.
    if invalid.is_empty() {
        invalid.extend(cel(schema, object, old));
    }
    match invalid.is_empty() {
        true => Ok(()),
        false => Err(Refusal::Invalid(invalid)),
    }
}

/// How an unknown field is noted while walking (reported apart, as kubectl does).
const UNKNOWN: &str = "unknown:";

/// The message the API server answers `kubectl apply` with: `The VideoStream "x" is
/// invalid: ...`, one field inline, several as a list.
pub fn refusal(kind: &str, name: &str, errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("The {kind} \"{name}\" is invalid: {}", one.0),
        many => {
            let lines: Vec<String> = many.iter().map(|e| format!("* {}", e.0)).collect();
            format!("The {kind} \"{name}\" is invalid: \n{}", lines.join("\n"))
        }
    }
}

fn unknown(path: &str) -> FieldError {
    FieldError(format!("{UNKNOWN}{path}"))
}

fn required(schema: &Value) -> impl Iterator<Item = &str> {
    schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `metadata.name` (a DNS subdomain, as for every custom resource) and `namespace`.
fn check_metadata(object: &Value, errors: &mut Vec<FieldError>) {
    let metadata = &object["metadata"];
    let subdomain =
        Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("a valid regex");
    match metadata["name"].as_str() {
        None if metadata["generateName"].is_string() => {}
        None => errors.push(FieldError(
            "metadata.name: Required value: name or generateName is required".into(),
        )),
        Some(name) if name.len() > 253 || !subdomain.is_match(name) => {
            errors.push(FieldError(format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            )))
        }
        Some(_) => {}
    }
    let label = Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("a valid regex");
    if let Some(namespace) = metadata["namespace"].as_str()
        && (namespace.len() > 63 || !label.is_match(namespace))
    {
        errors.push(FieldError(format!(
            "metadata.namespace: Invalid value: \"{namespace}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
        )));
    }
}

/// The JSON type of a value, as the API server names it in messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "number" => value.is_number(),
        other => type_name(value) == other,
    }
}

/// A value as it is quoted in `Invalid value: ...`.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Object(_) | Value::Array(_) => format!("\"{}\"", type_name(value)),
        other => other.to_string(),
    }
}

fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if value.is_null() {
        if schema["nullable"] != true {
            errors.push(FieldError(format!(
                "{path}: Invalid value: \"null\": {path} in body must be of type {}: \"null\"",
                schema["type"].as_str().unwrap_or("object")
            )));
        }
        return;
    }
    if let Some(wanted) = schema["type"].as_str()
        && !has_type(value, wanted)
    {
        errors.push(FieldError(format!(
            "{path}: Invalid value: \"{got}\": {path} in body must be of type {wanted}: \"{got}\"",
            got = type_name(value)
        )));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let supported: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        errors.push(FieldError(format!(
            "{path}: Unsupported value: {}: supported values: {}",
            value,
            supported.join(", ")
        )));
    }
    match value {
        Value::String(s) => check_string(schema, s, path, errors),
        Value::Number(n) => {
            check_number(schema, n.as_f64().unwrap_or_default(), value, path, errors)
        }
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            for (key, item) in map {
                let sub_path = format!("{path}.{key}");
                match properties.and_then(|p| p.get(key)) {
                    Some(sub) => walk(sub, item, &sub_path, errors),
                    None if additional.is_object() => walk(additional, item, &sub_path, errors),
                    None if properties.is_some() || additional == false => {
                        errors.push(unknown(&sub_path))
                    }
                    None => {}
                }
            }
            for field in required(schema) {
                if !map.contains_key(field) {
                    errors.push(FieldError(format!("{path}.{field}: Required value")));
                }
            }
            let count = map.len() as u64;
            if let Some(max) = schema["maxProperties"].as_u64()
                && count > max
            {
                errors.push(FieldError(format!(
                    "{path}: Too many: {count}: must have at most {max} items"
                )));
            }
            if let Some(min) = schema["minProperties"].as_u64()
                && count < min
            {
                errors.push(FieldError(format!(
                    "{path}: Invalid value: {count}: {path} in body should have at least {min} properties"
                )));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(&schema["items"], item, &format!("{path}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

fn check_string(schema: &Value, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    let length = s.chars().count() as u64;
    if let Some(min) = schema["minLength"].as_u64()
        && length < min
    {
        errors.push(FieldError(format!(
            "{path}: Invalid value: {s:?}: {path} in body should be at least {min} chars long"
        )));
    }
    if let Some(max) = schema["maxLength"].as_u64()
        && length > max
    {
        errors.push(FieldError(format!(
            "{path}: Too long: may not be more than {max} bytes"
        )));
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        match Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => errors.push(FieldError(format!(
                "{path}: Invalid value: {s:?}: {path} in body should match '{pattern}'"
            ))),
            Ok(_) => {}
            Err(e) => errors.push(FieldError(format!(
                "{path}: the schema's pattern does not compile: {e}"
            ))),
        }
    }
}

fn check_number(schema: &Value, n: f64, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(min) = schema["minimum"].as_f64()
        && n < min
    {
        errors.push(FieldError(format!(
            "{path}: Invalid value: {}: {path} in body should be greater than or equal to {}",
            shown(value),
            bound(min)
        )));
    }
    if let Some(max) = schema["maximum"].as_f64()
        && n > max
    {
        errors.push(FieldError(format!(
            "{path}: Invalid value: {}: {path} in body should be less than or equal to {}",
            shown(value),
            bound(max)
        )));
    }
}

/// A schema bound as the API server prints it: `87600`, not `87600.0`.
fn bound(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// The CEL rules. The API server lets root rules read `metadata.name` and
/// `metadata.generateName`, which the CRD's schema leaves out; they are added here so.
fn cel(schema: &Value, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut schema = schema.clone();
    schema["properties"]["metadata"] = json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
    });
    let Err(failures) = Validator::new().validate(&schema, object, old) else {
        return Vec::new();
    };
    failures
        .iter()
        .map(|failure| {
            let path = failure.field_path.trim_start_matches('.');
            let at = lookup(object, path);
            FieldError(format!(
                "{path}: Invalid value: {}: {}",
                at.map_or("\"object\"".to_string(), |v| format!(
                    "\"{}\"",
                    type_name(v)
                )),
                failure.message
            ))
        })
        .collect()
}

/// The value at a dotted path (`spec.tags`).
fn lookup<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(object, |value, key| value.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(spec: Value) -> Value {
        json!({
            "apiVersion": "kvs-operator.dev/v1alpha1",
            "kind": "VideoStream",
            "metadata": {"name": "cam", "namespace": "cameras"},
            "spec": spec,
        })
    }

    fn errors(object: &Value, old: Option<&Value>) -> Vec<String> {
        let schema = schema_of(object["kind"].as_str().unwrap_or_default()).expect("schema");
        match validate(&schema, object, old) {
            Ok(()) => Vec::new(),
            Err(Refusal::Invalid(errors)) => errors.into_iter().map(|e| e.0).collect(),
            Err(Refusal::UnknownFields(paths)) => {
                paths.into_iter().map(|p| format!("unknown {p}")).collect()
            }
        }
    }

    #[test]
    fn a_valid_manifest_passes() {
        let object = stream(json!({
            "streamName": "front-door-cam",
            "dataRetentionInHours": 24,
            "tags": {"team": "security"},
            "exportTo": {"configMapName": "front-door"},
        }));
        assert_eq!(errors(&object, None), Vec::<String>::new());
    }

    #[test]
    fn each_refusal_names_the_field_as_the_api_server_does() {
        let cases = [
            (
                json!({"dataRetentionInHours": 87601}),
                "spec.dataRetentionInHours: Invalid value: 87601: spec.dataRetentionInHours in body should be less than or equal to 87600",
            ),
            (
                json!({"dataRetentionInHours": "a day"}),
                "spec.dataRetentionInHours: Invalid value: \"string\": spec.dataRetentionInHours in body must be of type integer: \"string\"",
            ),
            (
                json!({"streamName": "front door"}),
                "spec.streamName: Invalid value: \"front door\": spec.streamName in body should match '^[a-zA-Z0-9_.-]+$'",
            ),
            (
                json!({"deletionPolicy": "Drop"}),
                "spec.deletionPolicy: Unsupported value: \"Drop\": supported values: \"Delete\", \"Retain\"",
            ),
            (json!({"retention": 24}), "unknown spec.retention"),
            (
                json!({"exportTo": {}}),
                "spec.exportTo.configMapName: Required value",
            ),
            (
                json!({"tags": {"aws:team": "x"}}),
                "spec.tags: Invalid value: \"object\": tag keys must not start with the reserved prefixes aws: or kvs-operator.dev/",
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(&stream(spec.clone()), None), [expected], "{spec}");
        }
    }

    #[test]
    fn the_name_and_the_spec_itself_are_checked() {
        let mut object = stream(json!({}));
        object["metadata"]["name"] = json!("Front_Door");
        assert!(
            errors(&object, None)[0].starts_with("metadata.name: Invalid value: \"Front_Door\"")
        );
        object["metadata"]["name"] = json!("a".repeat(200));
        assert!(
            errors(&object, None)[0].contains("metadata.name must be at most 192 characters"),
            "{:?}",
            errors(&object, None)
        );
        let mut no_spec = stream(json!({}));
        no_spec.as_object_mut().expect("object").remove("spec");
        assert_eq!(errors(&no_spec, None), ["spec: Required value"]);
    }

    #[test]
    fn transition_rules_hold_against_the_live_object_only() {
        let renamed = stream(json!({"streamName": "new-name"}));
        assert!(
            errors(&renamed, None).is_empty(),
            "a create has no old object"
        );
        let live = stream(json!({"streamName": "old-name"}));
        let refused = errors(&renamed, Some(&live));
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].contains("spec.streamName is immutable"),
            "{refused:?}"
        );
    }

    #[test]
    fn unknown_fields_are_refused_first_and_alone_as_by_strict_field_validation() {
        let object = stream(json!({"retention": 2, "colour": "red", "dataRetentionInHours": -1}));
        let schema = schema_of("VideoStream").expect("schema");
        let refusal = validate(&schema, &object, None).unwrap_err();
        assert_eq!(
            refusal.message("VideoStream", "v1alpha1", "cam"),
            "VideoStream in version \"v1alpha1\" cannot be handled as a VideoStream: strict decoding error: unknown field \"spec.colour\", unknown field \"spec.retention\""
        );
    }

    #[test]
    fn refusals_read_like_kubectl_apply_s() {
        let one = [FieldError("spec.x: Required value".into())];
        assert_eq!(
            refusal("VideoStream", "cam", &one),
            "The VideoStream \"cam\" is invalid: spec.x: Required value"
        );
        let two = [FieldError("a".into()), FieldError("b".into())];
        assert_eq!(
            refusal("VideoStream", "cam", &two),
            "The VideoStream \"cam\" is invalid: \n* a\n* b"
        );
    }
}
