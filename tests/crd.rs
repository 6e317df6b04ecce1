//! The committed CRDs must be exactly what the types generate, in `crds/` and in the chart.

use std::path::Path;

#[test]
fn committed_crds_match_the_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = kvs_operator::api::crds().expect("CRDs render");
    for dir in ["crds", "charts/kvs-operator/crds"] {
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
