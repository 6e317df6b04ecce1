//! Tenancy: AccountBindings decide, before any AWS call, which stream names a namespace may
//! use and whether it may adopt; tenants get VideoStreams and never AccountBindings.

use std::time::Duration;

use kvs_emulator::Operation;
use kvs_operator::api::{AccountBinding, CLUSTER_TAG, OWNER_TAG};
use kvs_operator::engine::conditions::{READY, STALLED, SYNCED, find};

use crate::support::{Harness, OperatorOptions, sdk_client};

/// Every KVS call (STS aside): a refusal made before AWS shows as none being called.
pub fn kvs_calls(h: &Harness) -> u64 {
    Operation::ALL
        .into_iter()
        .filter(|op| !op.is_sts())
        .map(|op| h.emulator.calls_of(op).total)
        .sum()
}

/// Every KVS call that changes something (the emulator's own list of mutations).
pub fn kvs_mutations(h: &Harness) -> u64 {
    Operation::ALL
        .into_iter()
        .filter(|op| op.is_mutation())
        .map(|op| h.emulator.calls_of(op).total)
        .sum()
}

/// An AccountBinding for one namespace whose stream names must begin with `<namespace>-`.
pub fn binding(name: &str, namespace: &str, extra: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {name}\nspec:\n  namespaces: [{namespace}]\n  streamNamePrefixes: [\"{namespace}-\"]\n{extra}"
    )
}

pub fn camera(name: &str, stream: &str, extra: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\nspec:\n  streamName: {stream}\n  deviceName: cam-01\n  dataRetentionInHours: 24\n{extra}"
    )
}

/// Waits until the operator has seen and verified binding `name` (so VideoStreams applied
/// after this are placed by it).
pub async fn wait_binding_ready(h: &Harness, name: &str) -> AccountBinding {
    h.wait_binding(name, "Ready", |b| {
        b.status.as_ref().is_some_and(|s| {
            find(&s.conditions, READY).is_some_and(|c| c.status == "True")
                && s.observed_generation == b.metadata.generation
        })
    })
    .await
}

/// A kubeconfig for a tenant who may edit VideoStreams in `namespace` through the chart's
/// aggregated edit role, and nothing else. (This control plane runs no controller-manager
/// to aggregate roles, so the tenant is bound to the chart's role directly.)
async fn tenant(h: &Harness) -> std::path::PathBuf {
    let roles = h
        .plane
        .helm([
            "template",
            "e2e",
            concat!(env!("CARGO_MANIFEST_DIR"), "/charts/kvs-operator"),
            "-s",
            "templates/aggregated-roles.yaml",
        ])
        .await
        .expect("helm runs");
    assert!(roles.success(), "{}", roles.stderr);
    h.apply_cluster_ok(&roles.stdout).await;
    let user = format!("tenant-{}", h.namespace);
    let binding = h
        .kubectl(&[
            "create",
            "rolebinding",
            "tenant-edit",
            "-n",
            &h.namespace,
            "--clusterrole=e2e-kvs-operator-edit",
            &format!("--user={user}"),
        ])
        .await;
    assert!(binding.success(), "{}", binding.stderr);
    h.plane
        .kubeconfig_as(&user, &[])
        .expect("tenant kubeconfig")
}

async fn kubectl_with(
    h: &Harness,
    kubeconfig: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> kvs_testenv::Output {
    let kubeconfig = kubeconfig.to_string_lossy().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
    all.extend_from_slice(args);
    match stdin {
        Some(input) => h.plane.kubectl_with_stdin(all, input).await,
        None => h.plane.kubectl(all).await,
    }
    .expect("kubectl runs")
}

fn condition_reason(vs: &kvs_operator::api::VideoStream, type_: &str) -> Option<String> {
    let status = vs.status.as_ref()?;
    find(&status.conditions, type_).map(|c| format!("{}/{}", c.status, c.reason))
}

#[tokio::test]
async fn a_tenant_can_neither_take_nor_destroy_a_stream_it_never_owned() {
    let h = Harness::start("attack").await;
    let ns = h.namespace.clone();
    let binding_name = format!("{ns}-tenant");
    h.apply_cluster_ok(&binding(&binding_name, &ns, "")).await;
    wait_binding_ready(&h, &binding_name).await;
    // Terraform's stream, within the tenant's prefix.
    let legacy = format!("{ns}-legacy");
    sdk_client(&h.emulator)
        .create_stream()
        .stream_name(&legacy)
        .data_retention_in_hours(24)
        .tags("managed-by", "terraform")
        .send()
        .await
        .expect("Terraform creates its stream");
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.emulator.reset_calls();

    // The tenant may edit VideoStreams in its namespace, and nothing else.
    let tenant = tenant(&h).await;
    let can_i = kubectl_with(
        &h,
        &tenant,
        &[
            "auth",
            "can-i",
            "create",
            "accountbindings.kvs-operator.dev",
        ],
        None,
    )
    .await;
    assert_eq!(can_i.stdout.trim(), "no", "{can_i:?}");
    let escalate = kubectl_with(
        &h,
        &tenant,
        &["apply", "-f", "-"],
        Some(&binding(
            &format!("{ns}-mine"),
            &ns,
            "  adoption: Allowed\n",
        )),
    )
    .await;
    assert!(!escalate.success());
    assert!(escalate.stderr.contains("forbidden"), "{}", escalate.stderr);

    // The attack: adopt Terraform's stream and drop its video.
    let attack = camera(
        "grab",
        &legacy,
        "  adoptExisting: true\n  dataRetentionInHours: 0\n",
    )
    .replace("  dataRetentionInHours: 24\n", "");
    let applied = kubectl_with(&h, &tenant, &["apply", "-n", &ns, "-f", "-"], Some(&attack)).await;
    assert!(applied.success(), "{}", applied.stderr);
    let vs = h.wait_synced_reason("grab", "AdoptionNotPermitted").await;
    let status = vs.status.clone().unwrap();
    let synced = find(&status.conditions, SYNCED).unwrap();
    assert!(synced.message.contains(&binding_name), "{}", synced.message);
    assert_eq!(
        condition_reason(&vs, STALLED).as_deref(),
        Some("True/AdoptionNotPermitted")
    );
    let (kind, _) = h.wait_event("grab", "AdoptionNotPermitted").await;
    assert_eq!(kind, "Warning");

    // Deleting it (the default policy is Delete) deletes nothing at AWS.
    let deleted = kubectl_with(&h, &tenant, &["delete", "vs", "grab", "-n", &ns], None).await;
    assert!(deleted.success(), "{}", deleted.stderr);
    h.wait_gone("grab").await;

    assert_eq!(
        kvs_mutations(&h),
        0,
        "it was only read, never changed: {:?}",
        h.emulator.calls()
    );
    let stream = h
        .emulator
        .stream(&legacy)
        .expect("Terraform's stream lives");
    assert_eq!(stream.data_retention_in_hours, 24);
    assert!(!stream.tags.contains_key(OWNER_TAG), "{:?}", stream.tags);
}

#[tokio::test]
async fn stream_names_must_begin_with_a_prefix_and_adoption_needs_the_bindings_consent() {
    let h = Harness::start("prefix").await;
    let ns = h.namespace.clone();
    let name = format!("{ns}-cams");
    h.apply_cluster_ok(&binding(&name, &ns, "  adoption: Allowed\n"))
        .await;
    wait_binding_ready(&h, &name).await;
    let existing = format!("{ns}-existing");
    sdk_client(&h.emulator)
        .create_stream()
        .stream_name(&existing)
        .data_retention_in_hours(2)
        .send()
        .await
        .expect("existing stream");
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.emulator.reset_calls();

    h.apply_ok(&camera("outside", "someone-elses-cam", ""))
        .await;
    let vs = h.wait_synced_reason("outside", "NameNotPermitted").await;
    let message = find(&vs.status.unwrap().conditions, SYNCED)
        .unwrap()
        .message
        .clone();
    assert!(message.contains(&format!("\"{ns}-\"")), "{message}");
    assert_eq!(kvs_calls(&h), 0, "{:?}", h.emulator.calls());
    assert!(h.emulator.stream("someone-elses-cam").is_none());

    let inside = format!("{ns}-door");
    h.apply_ok(&camera("inside", &inside, "")).await;
    h.wait_ready("inside").await;
    let stream = h.emulator.stream(&inside).expect("created");
    assert_eq!(stream.tags.get(OWNER_TAG), Some(&format!("{ns}/inside")));
    assert!(stream.tags.contains_key(CLUSTER_TAG), "{:?}", stream.tags);

    h.apply_ok(&camera("adopter", &existing, "  adoptExisting: true\n"))
        .await;
    h.wait_ready("adopter").await;
    assert_eq!(
        h.emulator
            .stream(&existing)
            .unwrap()
            .data_retention_in_hours,
        24
    );

    // The admin takes the consent back: adopting another existing stream is refused, with
    // nothing written to it; what was adopted before stays managed; and asking to adopt a
    // stream that does not exist creates it (the rule guards adopting, not the flag).
    h.apply_cluster_ok(&binding(&name, &ns, "  adoption: Forbidden\n"))
        .await;
    let late = format!("{ns}-late");
    sdk_client(&h.emulator)
        .create_stream()
        .stream_name(&late)
        .data_retention_in_hours(2)
        .send()
        .await
        .expect("another existing stream");
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.apply_ok(&camera("late-adopter", &late, "  adoptExisting: true\n"))
        .await;
    h.wait_synced_reason("late-adopter", "AdoptionNotPermitted")
        .await;
    let untouched = h.emulator.stream(&late).unwrap();
    assert!(
        !untouched.tags.contains_key(OWNER_TAG),
        "{:?}",
        untouched.tags
    );
    assert_eq!(untouched.data_retention_in_hours, 2);
    let fresh = format!("{ns}-fresh");
    h.apply_ok(&camera("fresh", &fresh, "  adoptExisting: true\n"))
        .await;
    h.wait_ready("fresh").await;
    assert!(h.emulator.stream(&fresh).is_some());
    h.wait_ready("adopter").await;
}

#[tokio::test]
async fn two_bindings_selecting_one_namespace_conflict_until_one_goes() {
    let h = Harness::start("conflict").await;
    let ns = h.namespace.clone();
    let (first, second) = (format!("{ns}-one"), format!("{ns}-two"));
    h.apply_cluster_ok(&binding(&first, &ns, "")).await;
    wait_binding_ready(&h, &first).await;
    let by_label = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {second}\nspec:\n  namespaceSelector:\n    matchLabels:\n      kubernetes.io/metadata.name: {ns}\n  streamNamePrefixes: [\"{ns}-\"]\n"
    );
    h.apply_cluster_ok(&by_label).await;
    wait_binding_ready(&h, &second).await;
    h.emulator.reset_calls();

    let stream = format!("{ns}-cam");
    h.apply_ok(&camera("cam", &stream, "")).await;
    let vs = h.wait_synced_reason("cam", "AccountBindingConflict").await;
    let message = find(&vs.status.unwrap().conditions, SYNCED)
        .unwrap()
        .message
        .clone();
    assert!(
        message.contains(&first) && message.contains(&second),
        "{message}"
    );
    assert_eq!(kvs_calls(&h), 0);

    // The admin removes one: the VideoStream is reconciled again at once and goes ahead.
    h.kubectl(&["delete", "accountbinding", &second, "--wait=false"])
        .await;
    h.wait_ready("cam").await;
    assert!(h.emulator.stream(&stream).is_some());
}

#[tokio::test]
async fn with_a_binding_required_an_unbound_namespace_waits_for_one() {
    let h = Harness::without_operator("required").await;
    let ns = h.namespace.clone();
    let options = OperatorOptions {
        namespaces: vec![ns.clone()],
        args: vec!["--require-account-binding".into()],
        ..OperatorOptions::default()
    };
    let _operator = h.spawn_operator(&options);
    let stream = format!("{ns}-cam");
    h.apply_ok(&camera("cam", &stream, "")).await;
    let vs = h.wait_synced_reason("cam", "NoAccountBinding").await;
    assert_eq!(
        condition_reason(&vs, READY).as_deref(),
        Some("False/NoAccountBinding")
    );
    assert_eq!(kvs_calls(&h), 0);

    let name = format!("{ns}-late");
    h.apply_cluster_ok(&binding(&name, &ns, "")).await;
    h.wait_ready("cam").await;
    let bound = wait_binding_ready(&h, &name).await;
    let status = bound.status.unwrap();
    assert_eq!(status.video_streams, Some(1));
    assert_eq!(status.account_id.as_deref(), Some(h.emulator.account_id()));
    assert_eq!(status.region.as_deref(), Some(h.emulator.region()));
}

#[tokio::test]
async fn a_binding_stays_until_the_streams_it_serves_are_cleaned_up_with_its_identity() {
    let h = Harness::start("keep").await;
    let ns = h.namespace.clone();
    let name = format!("{ns}-keep");
    h.apply_cluster_ok(&binding(&name, &ns, "")).await;
    wait_binding_ready(&h, &name).await;
    let stream = format!("{ns}-cam");
    h.apply_ok(&camera("cam", &stream, "")).await;
    h.wait_ready("cam").await;

    h.delete_binding_kept_for(&name, &format!("{ns}/cam")).await;

    h.kubectl(&["delete", "vs", "cam", "-n", &ns, "--wait=false"])
        .await;
    h.wait_gone("cam").await;
    assert!(h.emulator.stream(&stream).is_none(), "deleted at AWS");
    h.wait_binding_gone(&name, Duration::from_secs(30)).await;
}

#[tokio::test]
async fn malformed_bindings_are_refused_at_admission_naming_the_field() {
    let h = Harness::without_operator("admission").await;
    let ns = h.namespace.clone();
    let cases = [
        (
            "  roleARN: arn:aws:iam::12345:role/short-account\n",
            "spec.roleARN",
        ),
        ("  roleARN: not-an-arn-at-all-really\n", "spec.roleARN"),
        ("  region: Europe\n", "spec.region"),
        ("  externalID: lonely-id\n", "spec.externalID"),
    ];
    for (i, (extra, field)) in cases.iter().enumerate() {
        let out = h
            .apply_cluster(&binding(&format!("{ns}-bad-{i}"), &ns, extra))
            .await;
        assert!(!out.success(), "{extra} was accepted");
        assert!(out.stderr.contains(field), "{extra}: {}", out.stderr);
    }
    let no_prefixes = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {ns}-empty\nspec:\n  namespaces: [{ns}]\n  streamNamePrefixes: []\n"
    );
    let out = h.apply_cluster(&no_prefixes).await;
    assert!(!out.success());
    assert!(
        out.stderr.contains("spec.streamNamePrefixes"),
        "{}",
        out.stderr
    );
    let no_namespaces = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {ns}-nowhere\nspec:\n  streamNamePrefixes: [x]\n"
    );
    let out = h.apply_cluster(&no_namespaces).await;
    assert!(!out.success());
    assert!(
        out.stderr.contains("must select namespaces"),
        "{}",
        out.stderr
    );
}
