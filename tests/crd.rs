//! The committed CRD must be exactly what the types generate.

const COMMITTED: &str = include_str!("../crds/videostreams.kvs-operator.dev.yaml");

#[test]
fn committed_crd_matches_the_types() {
    let generated = kvs_operator::api::crd_yaml().expect("CRD renders");
    assert!(
        generated == COMMITTED,
        "crds/videostreams.kvs-operator.dev.yaml is stale; regenerate it with:\n  cargo run -- crd > crds/videostreams.kvs-operator.dev.yaml"
    );
}
