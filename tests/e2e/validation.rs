//! The API server itself refuses bad manifests, from the CRD schema and its CEL rules.

use crate::support::Harness;

fn manifest(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\nspec:\n{spec}\n"
    )
}

#[tokio::test]
async fn invalid_manifests_are_refused_by_kubectl_apply_naming_the_field() {
    let h = Harness::without_operator("invalid").await;
    let long = |n: usize| "a".repeat(n);
    let too_many_tags: String = (0..49).map(|i| format!("    k{i}: v\n")).collect();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad-name",
            "  streamName: \"front door!\"".into(),
            "spec.streamName",
        ),
        (
            "long-name",
            format!("  streamName: {}", long(257)),
            "spec.streamName",
        ),
        (
            "long-device",
            format!("  deviceName: {}", long(129)),
            "spec.deviceName",
        ),
        (
            "bad-device",
            "  deviceName: \"cam 01\"".into(),
            "spec.deviceName",
        ),
        ("bad-media", "  mediaType: h264".into(), "spec.mediaType"),
        (
            "bad-media-list",
            "  mediaType: \"video/h264,\"".into(),
            "spec.mediaType",
        ),
        (
            "negative-retention",
            "  dataRetentionInHours: -1".into(),
            "spec.dataRetentionInHours",
        ),
        (
            "huge-retention",
            "  dataRetentionInHours: 87601".into(),
            "spec.dataRetentionInHours",
        ),
        ("empty-kms", "  kmsKeyId: \"\"".into(), "spec.kmsKeyId"),
        (
            "bad-policy",
            "  deletionPolicy: Destroy".into(),
            "spec.deletionPolicy",
        ),
        ("bad-tier", "  storageTier: COLD".into(), "spec.storageTier"),
        (
            "too-many-tags",
            format!("  tags:\n{too_many_tags}"),
            "spec.tags",
        ),
        (
            "aws-tag",
            "  tags:\n    \"aws:owner\": x".into(),
            "spec.tags",
        ),
        (
            "operator-tag",
            "  tags:\n    \"kvs-operator.dev/owner\": x".into(),
            "spec.tags",
        ),
        (
            "long-tag-key",
            format!("  tags:\n    {}: x", long(129)),
            "spec.tags",
        ),
        (
            "bad-tag-key",
            "  tags:\n    \"team#1\": x".into(),
            "spec.tags",
        ),
        (
            "bad-tag-value",
            "  tags:\n    team: \"<script>\"".into(),
            "spec.tags",
        ),
        (
            "long-tag-value",
            format!("  tags:\n    team: {}", long(257)),
            "spec.tags",
        ),
        ("unknown-field", "  retention: 24".into(), "retention"),
        (
            "wrong-type",
            "  dataRetentionInHours: lots".into(),
            "spec.dataRetentionInHours",
        ),
    ];
    for (name, spec, field) in cases {
        let out = h.apply(&manifest(name, &spec)).await;
        assert!(!out.success(), "{name} was accepted:\n{spec}");
        assert!(
            out.stderr.contains(field),
            "{name}: the message does not name {field}: {}",
            out.stderr
        );
    }
    let out = h.apply(&manifest(&long(193), "  deviceName: cam")).await;
    assert!(!out.success(), "a 193-character name was accepted");
    assert!(out.stderr.contains("192 characters"), "{}", out.stderr);
    let listed = h
        .kubectl(&["get", "vs", "-n", &h.namespace, "-o", "name"])
        .await;
    assert_eq!(listed.stdout.trim(), "", "nothing was stored");
}

#[tokio::test]
async fn a_valid_manifest_with_every_field_is_accepted() {
    let h = Harness::without_operator("valid").await;
    let tags: String = (0..48)
        .map(|i| format!("    \"team {i}:x/y=z+@-_.\": \"v ü {i}\"\n"))
        .collect();
    let spec = format!(
        "  streamName: front-door_cam.01\n  deviceName: cam-01\n  mediaType: video/h264,audio/aac\n  kmsKeyId: alias/cameras\n  dataRetentionInHours: 87600\n  storageTier: WARM\n  deletionPolicy: Retain\n  adoptExisting: true\n  tags:\n{tags}"
    );
    let out = h.apply(&manifest("everything", &spec)).await;
    assert!(out.success(), "{}", out.stderr);
}

#[tokio::test]
async fn stream_name_and_kms_key_cannot_be_changed_once_set() {
    let h = Harness::without_operator("immutable").await;
    h.apply_ok(&manifest(
        "cam",
        "  streamName: original\n  kmsKeyId: alias/a",
    ))
    .await;

    let cases = [
        (
            "  streamName: renamed\n  kmsKeyId: alias/a",
            "spec.streamName is immutable",
        ),
        ("  kmsKeyId: alias/a", "spec.streamName is immutable"),
        (
            "  streamName: original\n  kmsKeyId: alias/b",
            "spec.kmsKeyId is immutable",
        ),
        ("  streamName: original", "spec.kmsKeyId is immutable"),
    ];
    for (spec, message) in cases {
        let out = h.apply(&manifest("cam", spec)).await;
        assert!(!out.success(), "accepted:\n{spec}");
        assert!(out.stderr.contains(message), "{spec}: {}", out.stderr);
    }

    // Spelling out the default name is not a rename; adding a key where there was none is.
    h.apply_ok(&manifest("plain", "  deviceName: cam")).await;
    h.apply_ok(&manifest("plain", "  streamName: plain\n  deviceName: cam"))
        .await;
    let out = h
        .apply(&manifest(
            "plain",
            "  streamName: plain\n  kmsKeyId: alias/new",
        ))
        .await;
    assert!(
        out.stderr.contains("spec.kmsKeyId is immutable"),
        "{}",
        out.stderr
    );
    // Mutable fields still change.
    h.apply_ok(&manifest(
        "cam",
        "  streamName: original\n  kmsKeyId: alias/a\n  dataRetentionInHours: 5",
    ))
    .await;
}

#[tokio::test]
async fn kubectl_resolves_each_short_name_of_ours_to_our_kind() {
    use kube::CustomResourceExt;
    use kvs_operator::api::{AccountBinding, SignalingChannel, VideoStream};
    let h = Harness::without_operator("short-names").await;
    for crd in [
        VideoStream::crd(),
        SignalingChannel::crd(),
        AccountBinding::crd(),
    ] {
        let names = crd.spec.names;
        for short in names.short_names.unwrap_or_default() {
            // A built-in kind with the same short name would win (as StorageClass does `sc`).
            let out = h.kubectl(&["explain", &short]).await;
            assert!(out.success(), "{short}: {}", out.stderr);
            let kind_line = out
                .stdout
                .lines()
                .find(|l| l.starts_with("KIND:"))
                .unwrap_or_default();
            assert!(
                kind_line.split_whitespace().last() == Some(names.kind.as_str())
                    && out.stdout.contains("kvs-operator.dev"),
                "kubectl takes {short} for another kind:\n{}",
                out.stdout
            );
        }
    }
}
