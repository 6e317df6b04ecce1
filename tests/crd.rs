//! The committed CRDs must be exactly what the types generate, in `crds/` and in the chart
//! (`charts/kvs-operator/files/crds/`, which its templates install).

use std::path::Path;

#[test]
fn committed_crds_match_the_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = kvs_operator::api::crds().expect("CRDs render");
    for dir in ["crds", "charts/kvs-operator/files/crds"] {
        for (file, yaml) in &generated {
            let committed = std::fs::read_to_string(root.join(dir).join(file)).unwrap_or_default();
            assert!(
                committed == *yaml,
                "{dir}/{file} is stale or missing; regenerate the CRDs with:\n  cargo run -- crd --out-dir {dir}"
            );
        }
        let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
            .expect("CRD directory")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".kvs-operator.dev.yaml"))
            .collect();
        files.sort();
        let expected: Vec<&String> = generated.iter().map(|(file, _)| file).collect();
        assert_eq!(
            files.iter().collect::<Vec<_>>(),
            expected,
            "{dir} holds exactly the operator's CRDs"
        );
    }
}

#[test]
fn the_crd_command_prints_the_files_concatenated() {
    let joined: String = kvs_operator::api::crds()
        .unwrap()
        .into_iter()
        .map(|(_, yaml)| yaml)
        .collect();
    assert_eq!(kvs_operator::api::crd_yaml().unwrap(), joined);
}

// --- compatibility with the previous release -------------------------------------------

mod crd_schema;
mod releases;

use std::collections::BTreeMap;

use crd_schema::{DEPRECATED, breaking_changes, parse_crds};
use serde_json::Value;

/// Breaks of compatibility made on purpose, each with its reason, reviewed like code:
/// (a line `breaking_changes` prints, why it is accepted). None so far.
const ACCEPTED_BREAKS: &[(&str, &str)] = &[];

fn tree_crds() -> BTreeMap<String, Value> {
    let text: String = kvs_operator::api::crds()
        .expect("CRDs render")
        .into_iter()
        .map(|(_, yaml)| yaml)
        .collect();
    parse_crds(&text)
}

#[test]
fn the_crds_keep_everything_a_manifest_of_the_previous_release_could_say() {
    let commit = releases::previous_commit();
    let previous_version = releases::cargo_version(&releases::file_at(&commit, "Cargo.toml"));
    let previous = parse_crds(&releases::crds_at(&commit));
    assert_eq!(previous.len(), 3, "{:?}", previous.keys());
    let breaks: Vec<String> = breaking_changes(
        &previous,
        &tree_crds(),
        &previous_version,
        env!("CARGO_PKG_VERSION"),
    )
    .into_iter()
    .filter(|line| !ACCEPTED_BREAKS.iter().any(|(accepted, _)| accepted == line))
    .collect();
    assert!(
        breaks.is_empty(),
        "an upgrade from {previous_version} ({}) would break manifests or drop what users set:\n  {}\n\
         Deprecate a field for a minor release before removing it (docs/upgrading.md), or \
         name the break with its reason in ACCEPTED_BREAKS.",
        &commit[..12],
        breaks.join("\n  ")
    );
}

/// The tree's VideoStream CRD with `change` made to its v1alpha1 schema.
fn changed(change: impl FnOnce(&mut Value)) -> BTreeMap<String, Value> {
    let mut crds = tree_crds();
    let crd = crds
        .get_mut("videostreams.kvs-operator.dev")
        .expect("VideoStream CRD");
    change(&mut crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]);
    crds
}

fn spec_property<'a>(schema: &'a mut Value, name: &str) -> &'a mut Value {
    &mut schema["properties"]["spec"]["properties"][name]
}

#[test]
fn removing_a_field_is_a_break_unless_it_was_deprecated_a_minor_release_before() {
    let tree = tree_crds();
    let without = changed(|schema| {
        let spec = schema["properties"]["spec"]["properties"]
            .as_object_mut()
            .expect("spec properties");
        spec.remove("deviceName");
        spec.remove("imageGeneration");
    });
    let breaks = breaking_changes(&tree, &without, "0.1.0", "0.2.0");
    assert!(
        breaks.contains(&"videostreams.kvs-operator.dev v1alpha1.spec.deviceName: removed without being deprecated in 0.1.0".to_string()),
        "{breaks:#?}"
    );
    assert!(
        breaks
            .iter()
            .any(|b| b.contains("v1alpha1.spec.imageGeneration.format: removed")),
        "a removed object's fields are named: {breaks:#?}"
    );

    // Deprecated in the previous release: it may go in the next minor release, with the
    // fields inside it, but not in a patch release.
    let deprecated = changed(|schema| {
        for field in ["deviceName", "imageGeneration"] {
            spec_property(schema, field)["description"] =
                Value::from(format!("{DEPRECATED}: going away."));
        }
    });
    assert_eq!(
        breaking_changes(&deprecated, &without, "0.1.0", "0.2.0"),
        Vec::<String>::new()
    );
    assert_eq!(
        breaking_changes(&deprecated, &without, "0.1.0", "1.0.0"),
        Vec::<String>::new()
    );
    let patch = breaking_changes(&deprecated, &without, "0.1.0", "0.1.1");
    assert!(
        patch
            .iter()
            .any(|b| b.ends_with("spec.deviceName: removed in 0.1.1, a patch release of 0.1.0")),
        "{patch:#?}"
    );
}

/// A change made to a schema in a test case.
type SchemaChange = Box<dyn FnOnce(&mut Value)>;

#[test]
fn narrower_values_new_requirements_and_unserved_versions_are_breaks() {
    let tree = tree_crds();
    let cases: Vec<(&str, SchemaChange)> = vec![
        (
            "spec.storageTier: enum value \"WARM\" dropped",
            Box::new(|schema| {
                spec_property(schema, "storageTier")["enum"] = serde_json::json!(["HOT", null])
            }),
        ),
        (
            "spec: deviceName became required",
            Box::new(|schema| {
                schema["properties"]["spec"]["required"] = serde_json::json!(["deviceName"])
            }),
        ),
        (
            "spec.dataRetentionInHours: maximum lowered to 8760",
            Box::new(|schema| {
                spec_property(schema, "dataRetentionInHours")["maximum"] = 8760.into()
            }),
        ),
        (
            "spec.deviceName: minLength raised to 3",
            Box::new(|schema| spec_property(schema, "deviceName")["minLength"] = 3.into()),
        ),
        (
            "spec.tags: validation rule added: size(self) <= 10",
            Box::new(|schema| {
                spec_property(schema, "tags")["x-kubernetes-validations"] =
                    serde_json::json!([{"rule": "size(self) <= 10"}])
            }),
        ),
        (
            "spec.dataRetentionInHours: type \"integer\" became \"string\"",
            Box::new(|schema| {
                spec_property(schema, "dataRetentionInHours")["type"] = "string".into()
            }),
        ),
    ];
    for (expected, change) in cases {
        let breaks = breaking_changes(&tree, &changed(change), "0.1.0", "0.2.0");
        assert_eq!(
            breaks,
            vec![format!("videostreams.kvs-operator.dev v1alpha1.{expected}")],
        );
    }

    let mut unserved = tree_crds();
    unserved
        .get_mut("signalingchannels.kvs-operator.dev")
        .expect("SignalingChannel CRD")["spec"]["versions"][0]["served"] = false.into();
    unserved.remove("accountbindings.kvs-operator.dev");
    assert_eq!(
        breaking_changes(&tree, &unserved, "0.1.0", "0.2.0"),
        vec![
            "accountbindings.kvs-operator.dev: the CRD is gone".to_string(),
            "signalingchannels.kvs-operator.dev: version v1alpha1 is no longer served".to_string(),
        ]
    );
}

#[test]
fn new_optional_fields_and_wider_values_are_no_break() {
    let tree = tree_crds();
    let wider = changed(|schema| {
        spec_property(schema, "region")["type"] = "string".into();
        spec_property(schema, "region")["maxLength"] = 32.into();
        spec_property(schema, "dataRetentionInHours")["maximum"] = 100_000.into();
        spec_property(schema, "deviceName")["minLength"] = 0.into();
        spec_property(schema, "storageTier")["enum"] =
            serde_json::json!(["HOT", "WARM", null, "COLD"]);
    });
    assert_eq!(
        breaking_changes(&tree, &wider, "0.1.0", "0.2.0"),
        Vec::<String>::new()
    );
}
