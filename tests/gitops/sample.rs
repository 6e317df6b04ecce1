//! deploy/argocd/application.yaml, the sample docs/argocd.md starts users from.

use std::path::Path;

use crate::argocd;

#[tokio::test]
async fn the_sample_application_is_accepted_by_argo_cds_crd_and_does_not_prune() {
    let argocd = argocd::shared().await;
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd/application.yaml"),
    )
    .expect("the sample Application");
    // Validated by the API server against the Application CRD Argo CD installed.
    let out = argocd
        .plane
        .kubectl_with_stdin(["apply", "--dry-run=server", "-f", "-"], sample.as_str())
        .await
        .expect("kubectl runs");
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
    let app: serde_json::Value = serde_yaml_ng::from_str(&sample).expect("YAML");
    assert_eq!(app["metadata"]["namespace"], "argocd");
    // Pruning a VideoStream deletes its stream and video: the sample must not do it.
    assert_eq!(app["spec"]["syncPolicy"]["automated"]["prune"], false);
}
