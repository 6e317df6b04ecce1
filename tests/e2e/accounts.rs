//! Several AWS accounts and regions in one operator: each AccountBinding's role is assumed
//! through the emulator's STS, and its streams live in that role's account and region.

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_kinesisvideo::config::{Credentials, Region};
use kvs_emulator::{Operation, RoleRule};
use kvs_operator::api::OWNER_TAG;
use kvs_operator::engine::conditions::{READY, STALLED, SYNCED, find};

use crate::support::{Harness, OperatorOptions};
use crate::tenancy::{camera, wait_binding_ready};

const ROLE_A: &str = "arn:aws:iam::111111111111:role/tenant-a";
const ROLE_B: &str = "arn:aws:iam::222222222222:role/tenant-b";
const ROLE_C: &str = "arn:aws:iam::333333333333:role/tenant-c";

/// A binding of `namespace` to a role and region, for stream names beginning `shared-`.
fn bound(name: &str, namespace: &str, role: &str, region: &str, extra: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {name}\nspec:\n  namespaces: [{namespace}]\n  streamNamePrefixes: [shared-, \"{namespace}-\"]\n  roleARN: {role}\n  region: {region}\n{extra}"
    )
}

/// A KVS client acting as `role` in `region`, assumed through the emulator's STS with the
/// test's own base credentials: what a person checking the operator's work would use.
async fn client_as(
    h: &Harness,
    role: &str,
    external_id: Option<&str>,
    region: &str,
) -> aws_sdk_kinesisvideo::Client {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            "AKIDCHECKER",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(h.emulator.url())
        .load()
        .await;
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("e2e-check")
        .region(Region::new(region.to_string()))
        .configure(&base);
    if let Some(id) = external_id {
        provider = provider.external_id(id);
    }
    let provider = provider.build().await;
    aws_sdk_kinesisvideo::Client::from_conf(
        aws_sdk_kinesisvideo::config::Builder::from(&base)
            .credentials_provider(provider)
            .build(),
    )
}

/// Two namespaces, an emulator and one operator serving both.
async fn two_tenants(prefix: &str) -> (Harness, String, String, crate::support::Operator) {
    let h = Harness::without_operator(prefix).await;
    let other = h
        .plane
        .unique_namespace(&format!("{prefix}-b"))
        .await
        .expect("namespace");
    let operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![h.namespace.clone(), other.clone()],
        ..OperatorOptions::default()
    });
    let first = h.namespace.clone();
    (h, first, other, operator)
}

#[tokio::test]
async fn each_binding_acts_in_its_own_account_and_region() {
    let (h, ns_a, ns_b, _operator) = two_tenants("accounts").await;
    h.emulator
        .update_settings(|s| {
            s.sts.roles.insert(
                ROLE_A.into(),
                RoleRule {
                    external_id: Some("cluster-secret".into()),
                    ..RoleRule::default()
                },
            );
        })
        .expect("settings");
    let (a, b) = (format!("{ns_a}-a"), format!("{ns_b}-b"));
    h.apply_cluster_ok(&bound(
        &a,
        &ns_a,
        ROLE_A,
        "us-east-1",
        "  externalID: cluster-secret\n",
    ))
    .await;
    h.apply_cluster_ok(&bound(&b, &ns_b, ROLE_B, "eu-west-1", ""))
        .await;
    let binding_a = wait_binding_ready(&h, &a).await.status.unwrap();
    let binding_b = wait_binding_ready(&h, &b).await.status.unwrap();
    assert_eq!(binding_a.account_id.as_deref(), Some("111111111111"));
    assert_eq!(binding_a.region.as_deref(), Some("us-east-1"));
    assert!(
        binding_a
            .caller_arn
            .as_deref()
            .is_some_and(|arn| arn.starts_with("arn:aws:sts::111111111111:assumed-role/tenant-a/")),
        "{binding_a:?}"
    );
    assert_eq!(binding_b.account_id.as_deref(), Some("222222222222"));

    // The same stream name in both tenants: one stream in each account.
    for ns in [&ns_a, &ns_b] {
        let out = h.apply_in(ns, &camera("cam", "shared-cam", "")).await;
        assert!(out.success(), "{}", out.stderr);
    }
    let mut arns = Vec::new();
    for (ns, role, external_id, account, region) in [
        (
            &ns_a,
            ROLE_A,
            Some("cluster-secret"),
            "111111111111",
            "us-east-1",
        ),
        (&ns_b, ROLE_B, None, "222222222222", "eu-west-1"),
    ] {
        let vs = h
            .wait_for_in(ns, "cam", "Ready", |vs| {
                vs.status
                    .as_ref()
                    .is_some_and(|s| find(&s.conditions, READY).is_some_and(|c| c.status == "True"))
            })
            .await;
        let arn = vs.status.unwrap().stream_arn.unwrap();
        assert!(
            arn.starts_with(&format!(
                "arn:aws:kinesisvideo:{region}:{account}:stream/shared-cam/"
            )),
            "{arn}"
        );
        // Checked through STS, as the role: the stream is in the role's account.
        let described = client_as(&h, role, external_id, region)
            .await
            .describe_stream()
            .stream_name("shared-cam")
            .send()
            .await
            .expect("the role sees its stream");
        assert_eq!(
            described.stream_info().and_then(|i| i.stream_arn()),
            Some(arn.as_str())
        );
        let stream = h
            .emulator
            .stream_in(account, region, "shared-cam")
            .expect("in the role's account");
        assert_eq!(stream.tags.get(OWNER_TAG), Some(&format!("{ns}/cam")));
        arns.push(arn);
    }
    assert_ne!(arns[0], arns[1]);
    assert!(
        h.emulator.stream("shared-cam").is_none(),
        "nothing in the operator's own account"
    );
    // Role A's session cannot see B's stream: the accounts really are apart.
    let a_looks_in_b = client_as(&h, ROLE_A, Some("cluster-secret"), "eu-west-1")
        .await
        .describe_stream()
        .stream_name("shared-cam")
        .send()
        .await;
    assert!(a_looks_in_b.is_err(), "{a_looks_in_b:?}");
}

#[tokio::test]
async fn a_refused_role_is_reported_and_retried_slowly_with_nothing_half_applied() {
    let h = Harness::start("denied").await;
    let ns = h.namespace.clone();
    h.emulator
        .update_settings(|s| {
            s.sts.roles.insert(
                ROLE_C.into(),
                RoleRule {
                    deny: Some("the trust policy does not name this operator".into()),
                    ..RoleRule::default()
                },
            );
        })
        .expect("settings");
    let name = format!("{ns}-denied");
    h.apply_cluster_ok(&bound(&name, &ns, ROLE_C, "us-west-2", ""))
        .await;
    let binding = h
        .wait_binding(&name, "refused", |b| {
            b.status
                .as_ref()
                .is_some_and(|s| find(&s.conditions, READY).is_some_and(|c| c.status == "False"))
        })
        .await;
    let ready = find(&binding.status.unwrap().conditions, READY)
        .cloned()
        .unwrap();
    assert_eq!(ready.reason, "AccessDenied");
    assert!(
        ready.message.contains("does not name this operator"),
        "{}",
        ready.message
    );

    let stream = format!("{ns}-cam");
    h.apply_ok(&camera("cam", &stream, "")).await;
    let vs = h.wait_synced_reason("cam", "AccessDenied").await;
    let conditions = vs.status.unwrap().conditions;
    let synced = find(&conditions, SYNCED).unwrap();
    assert!(
        synced.message.contains("does not name this operator"),
        "{}",
        synced.message
    );
    assert_eq!(
        find(&conditions, STALLED).map(|c| c.status.as_str()),
        Some("True")
    );

    // No retry storm: over a quiet window the role is asked for a handful of times at
    // most, and no KVS call is made in any account.
    let since = h.emulator.call_log().last().map_or(0, |r| r.seq);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let window = h.emulator.call_log_since(since);
    let assumes = window
        .iter()
        .filter(|r| r.operation == Operation::AssumeRole)
        .count();
    assert!(
        assumes <= 2,
        "{assumes} AssumeRole calls in 10 s: {window:#?}"
    );
    let kvs: Vec<_> = h
        .emulator
        .call_log()
        .into_iter()
        .filter(|r| {
            r.operation != Operation::AssumeRole && r.operation != Operation::GetCallerIdentity
        })
        .collect();
    assert!(kvs.is_empty(), "{kvs:#?}");

    // The admin fixes the trust policy and edits the binding: everything goes ahead.
    h.emulator
        .update_settings(|s| {
            s.sts.roles.remove(ROLE_C);
        })
        .expect("settings");
    let edited = bound(&name, &ns, ROLE_C, "us-west-2", "")
        .replace("streamNamePrefixes: [", "streamNamePrefixes: [fixed-, ");
    h.apply_cluster_ok(&edited).await;
    wait_binding_ready(&h, &name).await;
    h.wait_ready("cam").await;
    assert!(
        h.emulator
            .stream_in("333333333333", "us-west-2", &stream)
            .is_some()
    );
}

#[tokio::test]
async fn moving_a_binding_to_another_account_strands_nothing_and_duplicates_nothing() {
    let h = Harness::start("moved").await;
    let ns = h.namespace.clone();
    let name = format!("{ns}-moving");
    let stream = format!("{ns}-cam");
    h.apply_cluster_ok(&bound(&name, &ns, ROLE_A, "us-west-2", ""))
        .await;
    wait_binding_ready(&h, &name).await;
    h.apply_ok(&camera("cam", &stream, "")).await;
    let before = h
        .wait_ready("cam")
        .await
        .status
        .unwrap()
        .stream_arn
        .unwrap();

    // The admin points the namespace at another account.
    h.apply_cluster_ok(&bound(&name, &ns, ROLE_B, "us-west-2", ""))
        .await;
    let vs = h.wait_synced_reason("cam", "AccountChanged").await;
    let message = find(&vs.status.unwrap().conditions, SYNCED)
        .unwrap()
        .message
        .clone();
    assert!(
        message.contains("111111111111") && message.contains("222222222222"),
        "{message}"
    );
    assert!(
        h.emulator
            .stream_in("222222222222", "us-west-2", &stream)
            .is_none()
    );

    // Deleting it now would orphan the stream: the finalizer stays and says why.
    h.kubectl(&["delete", "vs", "cam", "-n", &ns, "--wait=false"])
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(h.api().get_opt("cam").await.expect("get").is_some());
    let kept = h
        .emulator
        .stream_in("111111111111", "us-west-2", &stream)
        .expect("the stream is kept");
    assert_eq!(kept.stream_arn, before);

    // The binding goes back: the cleanup runs with the right identity.
    h.apply_cluster_ok(&bound(&name, &ns, ROLE_A, "us-west-2", ""))
        .await;
    h.wait_gone("cam").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while h
        .emulator
        .stream_in("111111111111", "us-west-2", &stream)
        .is_some()
    {
        assert!(Instant::now() < deadline, "the stream was never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        h.emulator
            .calls_of_in("222222222222", "us-west-2", Operation::CreateStream)
            .total,
        0
    );
}

#[tokio::test]
async fn iam_on_the_tenant_role_enforces_the_same_boundary_a_second_time() {
    let h = Harness::start("iam").await;
    let ns = h.namespace.clone();
    // The role may only touch `<ns>-` streams; the binding (wrongly) also allows shared-.
    h.emulator
        .update_settings(|s| {
            s.sts.roles.insert(
                ROLE_A.into(),
                RoleRule {
                    name_prefixes: Some(vec![format!("{ns}-")]),
                    ..RoleRule::default()
                },
            );
        })
        .expect("settings");
    let name = format!("{ns}-iam");
    h.apply_cluster_ok(&bound(&name, &ns, ROLE_A, "us-west-2", ""))
        .await;
    wait_binding_ready(&h, &name).await;
    h.apply_ok(&camera("inside", &format!("{ns}-cam"), ""))
        .await;
    h.apply_ok(&camera("outside", "shared-by-mistake", ""))
        .await;
    h.wait_ready("inside").await;
    let vs = h.wait_synced_reason("outside", "AccessDenied").await;
    let message = find(&vs.status.unwrap().conditions, SYNCED)
        .unwrap()
        .message
        .clone();
    assert!(message.contains("AccessDeniedException"), "{message}");
    assert!(
        h.emulator
            .stream_in("111111111111", "us-west-2", "shared-by-mistake")
            .is_none()
    );
}

#[tokio::test]
async fn one_drift_scan_per_account_however_many_namespaces_are_watched() {
    let h = Harness::without_operator("scans").await;
    let mut namespaces = vec![h.namespace.clone()];
    for i in 0..3 {
        let ns = h
            .plane
            .unique_namespace(&format!("scans-{i}"))
            .await
            .expect("namespace");
        namespaces.push(ns);
    }
    let _operator = h.spawn_operator(&OperatorOptions {
        namespaces: namespaces.clone(),
        ..OperatorOptions::default()
    });
    for ns in &namespaces {
        let out = h
            .apply_in(ns, &camera("cam", &format!("{ns}-cam"), ""))
            .await;
        assert!(out.success(), "{}", out.stderr);
    }
    for ns in &namespaces {
        h.wait_for_in(ns, "cam", "Ready", |vs| {
            vs.status
                .as_ref()
                .is_some_and(|s| find(&s.conditions, READY).is_some_and(|c| c.status == "True"))
        })
        .await;
    }
    // The e2e operators scan every second: over 6 s, one scan of the account gives about
    // six ListStreams; one per namespace would give about 24.
    h.emulator.reset_calls();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let lists = h.emulator.calls_of(Operation::ListStreams).total;
    assert!((1..=9).contains(&lists), "{lists} ListStreams in 6 s");
}

#[tokio::test]
async fn a_create_lost_in_a_crash_is_never_made_again_in_the_account_a_binding_moved_to() {
    let h = Harness::start("lost-create").await;
    let ns = h.namespace.clone();
    let name = format!("{ns}-lost");
    let stream = format!("{ns}-cam");
    // The operator created the stream in account 111111111111, then crashed before its
    // status recorded it: the stream carries the ownership tags, and the VideoStream only
    // the finalizer and the account annotation written before the create.
    let cluster = h.cluster_id().await;
    let client = client_as(&h, ROLE_A, None, "us-west-2").await;
    client
        .create_stream()
        .stream_name(&stream)
        .data_retention_in_hours(24)
        .tags(OWNER_TAG, format!("{ns}/cam"))
        .tags(kvs_operator::api::CLUSTER_TAG, &cluster)
        .send()
        .await
        .expect("the create that went through");
    let created = h
        .emulator
        .stream_in("111111111111", "us-west-2", &stream)
        .expect("in account A")
        .stream_arn;
    // Meanwhile the admin moved the namespace's binding to account 222222222222.
    h.apply_cluster_ok(&bound(&name, &ns, ROLE_B, "us-west-2", ""))
        .await;
    wait_binding_ready(&h, &name).await;
    let crashed = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: cam\n  finalizers: [{}]\n  annotations:\n    {}: 111111111111/us-west-2\nspec:\n  streamName: {stream}\n  deviceName: cam-01\n  dataRetentionInHours: 24\n",
        kvs_operator::engine::reconcile::FINALIZER,
        kvs_operator::api::ACCOUNT_ANNOTATION,
    );
    h.apply_ok(&crashed).await;

    let vs = h.wait_synced_reason("cam", "AccountChanged").await;
    let message = find(&vs.status.unwrap().conditions, SYNCED)
        .unwrap()
        .message
        .clone();
    assert!(
        message.contains("111111111111") && message.contains("222222222222"),
        "{message}"
    );
    assert_eq!(
        h.emulator
            .calls_of_in("222222222222", "us-west-2", Operation::CreateStream)
            .total,
        0,
        "no second stream in the new account"
    );

    // The binding goes back: the stream is found where it was made, and kept.
    h.apply_cluster_ok(&bound(&name, &ns, ROLE_A, "us-west-2", ""))
        .await;
    let vs = h.wait_ready("cam").await;
    assert_eq!(
        vs.status.unwrap().stream_arn.as_deref(),
        Some(created.as_str())
    );
    assert_eq!(
        h.emulator
            .calls_of_in("111111111111", "us-west-2", Operation::CreateStream)
            .succeeded,
        1,
        "the one create, made before the crash"
    );
}

#[tokio::test]
async fn the_drift_scan_lists_with_another_identity_when_the_first_loses_the_permission() {
    const ROLE_ONE: &str = "arn:aws:iam::111111111111:role/scan-one";
    const ROLE_TWO: &str = "arn:aws:iam::111111111111:role/scan-two";
    let h = Harness::without_operator("scanner").await;
    let first = h.namespace.clone();
    let second = h
        .plane
        .unique_namespace("scanner-b")
        .await
        .expect("namespace");
    // Resyncs too rare to matter: only the drift scan can see a change made at AWS.
    let _operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![first.clone(), second.clone()],
        args: vec!["--resync-period=1h".into()],
        ..OperatorOptions::default()
    });
    // Two bindings, two roles of one account: one drift scan for the account, started by
    // the first identity that acts there.
    h.apply_cluster_ok(&bound(&first, &first, ROLE_ONE, "us-west-2", ""))
        .await;
    wait_binding_ready(&h, &first).await;
    let out = h
        .apply_in(&first, &camera("cam", &format!("{first}-cam"), ""))
        .await;
    assert!(out.success(), "{}", out.stderr);
    h.wait_for_in(&first, "cam", "Ready", |vs| {
        vs.status
            .as_ref()
            .is_some_and(|s| find(&s.conditions, READY).is_some_and(|c| c.status == "True"))
    })
    .await;
    h.apply_cluster_ok(&bound(&second, &second, ROLE_TWO, "us-west-2", ""))
        .await;
    wait_binding_ready(&h, &second).await;
    let stream = format!("{second}-cam");
    let out = h.apply_in(&second, &camera("cam", &stream, "")).await;
    assert!(out.success(), "{}", out.stderr);
    h.wait_for_in(&second, "cam", "Ready", |vs| {
        vs.status
            .as_ref()
            .is_some_and(|s| find(&s.conditions, READY).is_some_and(|c| c.status == "True"))
    })
    .await;

    // The first role loses ListStreams (and keeps everything else).
    h.emulator
        .update_settings(|s| {
            s.sts.roles.insert(
                ROLE_ONE.into(),
                RoleRule {
                    actions: Some(
                        Operation::ALL
                            .into_iter()
                            .filter(|op| !op.is_sts() && *op != Operation::ListStreams)
                            .collect(),
                    ),
                    ..RoleRule::default()
                },
            );
        })
        .expect("settings");
    let denied_before = h
        .emulator
        .calls_of_in("111111111111", "us-west-2", Operation::ListStreams)
        .errors_of("AccessDeniedException");

    // Someone changes the second namespace's stream at AWS: the scan still sees it.
    let checker = client_as(&h, ROLE_TWO, None, "us-west-2").await;
    let live = h
        .emulator
        .stream_in("111111111111", "us-west-2", &stream)
        .unwrap();
    checker
        .update_data_retention()
        .stream_arn(&live.stream_arn)
        .current_version(&live.version)
        .operation(aws_sdk_kinesisvideo::types::UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(12)
        .send()
        .await
        .expect("a change made in the console");
    let deadline = Instant::now() + Duration::from_secs(60);
    while h
        .emulator
        .stream_in("111111111111", "us-west-2", &stream)
        .unwrap()
        .data_retention_in_hours
        != 24
    {
        assert!(Instant::now() < deadline, "the drift was never found");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let denied = h
        .emulator
        .calls_of_in("111111111111", "us-west-2", Operation::ListStreams)
        .errors_of("AccessDeniedException")
        - denied_before;
    println!("{denied} ListStreams refused to the first role before the second listed");
}
