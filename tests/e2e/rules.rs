//! A rule guards the step it is about: adoption is checked when adopting, name prefixes
//! when creating or adopting, and what an object already owns keeps being reconciled — and
//! can always be cleaned up — with the identity it was placed with, however the admin
//! changes the AccountBindings afterwards. A namespace no binding selects may not adopt
//! unless the operator is told so.

use std::time::{Duration, Instant};

use kube::Api;
use kvs_emulator::Operation;
use kvs_operator::api::{AccountBinding, OWNER_TAG, PlacementStatus};
use kvs_operator::engine::conditions::{READY, STALLED, SYNCED, find};

use crate::support::{Harness, OperatorOptions, sdk_client};
use crate::tenancy::{binding, camera, kvs_mutations, wait_binding_ready};

/// A stream made outside Kubernetes (Terraform, the console), with no ownership tags.
async fn made_outside(h: &Harness, name: &str, retention: i32) {
    sdk_client(&h.emulator)
        .create_stream()
        .stream_name(name)
        .data_retention_in_hours(retention)
        .tags("managed-by", "terraform")
        .send()
        .await
        .expect("the stream is created outside Kubernetes");
    h.wait_stream(name, "ACTIVE", |s| {
        s.is_some_and(|s| s.status == kvs_emulator::StreamStatus::Active)
    })
    .await;
}

/// Waits until the operator has seen AccountBinding `name` at its current generation.
async fn wait_binding_seen(h: &Harness, name: &str) {
    let bindings: Api<AccountBinding> = Api::all(h.client.clone());
    let generation = bindings.get(name).await.unwrap().metadata.generation;
    h.wait_binding(name, "seen at its new generation", |b| {
        b.status
            .as_ref()
            .is_some_and(|s| s.observed_generation == generation)
    })
    .await;
}

#[tokio::test]
async fn an_unbound_namespace_may_not_adopt_a_stream_made_outside_kubernetes() {
    let h = Harness::start("unbound").await;
    let ns = h.namespace.clone();
    // A ten-year archive, made by Terraform (or released by a VideoStream with Retain).
    let archive = format!("{ns}-archive");
    made_outside(&h, &archive, 87600).await;
    h.emulator.reset_calls();

    // A namespace editor adopts it to drop its video: refused, nothing written.
    let attack = camera(
        "grab",
        &archive,
        "  adoptExisting: true\n  dataRetentionInHours: 0\n",
    )
    .replace("  dataRetentionInHours: 24\n", "");
    h.apply_ok(&attack).await;
    let vs = h.wait_synced_reason("grab", "AdoptionNotPermitted").await;
    let message = find(&vs.status.unwrap().conditions, SYNCED)
        .unwrap()
        .message
        .clone();
    assert!(message.contains("--unbound-adoption"), "{message}");
    h.delete_ok("vs", "grab").await;
    h.wait_gone("grab").await;
    assert_eq!(kvs_mutations(&h), 0, "{:?}", h.emulator.calls());
    let kept = h.emulator.stream(&archive).expect("the archive lives");
    assert_eq!(kept.data_retention_in_hours, 87600);
    assert!(!kept.tags.contains_key(OWNER_TAG), "{:?}", kept.tags);

    // Creating a new stream is still the quick start's to do.
    h.apply_ok(&camera("new", &format!("{ns}-new"), "")).await;
    h.wait_ready("new").await;

    // An operator told to allow it (--unbound-adoption Allowed) adopts.
    let h2 = Harness::without_operator("unbound-allowed").await;
    let ns2 = h2.namespace.clone();
    let _operator = h2.spawn_operator(&OperatorOptions {
        namespaces: vec![ns2.clone()],
        args: vec!["--unbound-adoption=Allowed".into()],
        ..OperatorOptions::default()
    });
    let legacy = format!("{ns2}-legacy");
    made_outside(&h2, &legacy, 24).await;
    h2.apply_ok(&camera("adopt", &legacy, "  adoptExisting: true\n"))
        .await;
    h2.wait_ready("adopt").await;
    let adopted = h2.emulator.stream(&legacy).unwrap();
    assert_eq!(
        adopted.tags.get(OWNER_TAG),
        Some(&format!("{ns2}/adopt")),
        "{:?}",
        adopted.tags
    );
}

#[tokio::test]
async fn what_an_object_owns_is_still_reconciled_and_deleted_after_its_binding_is_tightened() {
    let h = Harness::start("tightened").await;
    let ns = h.namespace.clone();
    let name = format!("{ns}-import");
    // The import workflow: allow adoption, adopt what exists, then forbid it again.
    h.apply_cluster_ok(&binding(&name, &ns, "  adoption: Allowed\n"))
        .await;
    wait_binding_ready(&h, &name).await;
    let existing = format!("{ns}-legacy");
    made_outside(&h, &existing, 24).await;
    h.apply_ok(&camera("legacy", &existing, "  adoptExisting: true\n"))
        .await;
    let adopted = h.wait_ready("legacy").await;
    let placement = adopted.status.unwrap().placement;
    assert_eq!(
        placement.as_deref(),
        Some(&PlacementStatus {
            account_binding: Some(name.clone()),
            account: h.emulator.account_id().to_string(),
            region: h.emulator.region().to_string(),
        }),
        "the status records where it was placed"
    );

    // The admin forbids adoption and narrows the prefixes so the name falls outside them.
    let narrowed = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {name}\nspec:\n  namespaces: [{ns}]\n  streamNamePrefixes: [\"{ns}-new-\"]\n  adoption: Forbidden\n"
    );
    h.apply_cluster_ok(&narrowed).await;
    wait_binding_seen(&h, &name).await;

    // What it owns takes spec changes...
    let longer = camera("legacy", &existing, "  adoptExisting: true\n")
        .replace("dataRetentionInHours: 24", "dataRetentionInHours: 48");
    h.apply_ok(&longer).await;
    let vs = h.wait_ready("legacy").await;
    assert_eq!(
        vs.status.as_ref().unwrap().data_retention_in_hours,
        Some(48)
    );
    let synced = find(&vs.status.as_ref().unwrap().conditions, SYNCED).unwrap();
    assert_eq!(synced.status, "True", "{synced:?}");
    assert!(
        find(&vs.status.unwrap().conditions, STALLED).is_none(),
        "not stalled"
    );
    assert_eq!(
        h.emulator
            .stream(&existing)
            .unwrap()
            .data_retention_in_hours,
        48
    );

    // ...and a second binding on the namespace refuses new objects, not what is owned.
    let second = format!("{ns}-second");
    h.apply_cluster_ok(&binding(&second, &ns, "")).await;
    wait_binding_ready(&h, &second).await;
    h.apply_ok(&camera("newcomer", &format!("{ns}-new-cam"), ""))
        .await;
    h.wait_synced_reason("newcomer", "AccountBindingConflict")
        .await;
    let marked = h.log_mark();
    let tagged = camera(
        "legacy",
        &existing,
        "  adoptExisting: true\n  tags: {site: door}\n",
    )
    .replace("dataRetentionInHours: 24", "dataRetentionInHours: 48");
    h.apply_ok(&tagged).await;
    h.wait_ready("legacy").await;
    assert!(
        h.mutations_since(marked)
            .iter()
            .any(|call| call.operation == Operation::TagStream),
        "the owned stream is still reconciled with the identity it was placed with"
    );

    // ...and its deletion is not held up: the stream goes with it.
    h.delete_ok("vs", "legacy").await;
    h.wait_gone("legacy").await;
    h.wait_stream(&existing, "deleted", |s| s.is_none()).await;
    h.delete_ok("vs", "newcomer").await;
    h.wait_gone("newcomer").await;
}

#[tokio::test]
async fn a_binding_whose_namespace_was_relabelled_away_can_still_be_deleted() {
    let h = Harness::start("relabelled").await;
    let ns = h.namespace.clone();
    let name = format!("{ns}-by-label");
    let label = format!("kvs-tenant-{ns}");
    let by_label = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata:\n  name: {name}\nspec:\n  namespaceSelector:\n    matchLabels:\n      {label}: \"yes\"\n  streamNamePrefixes: [\"{ns}-\"]\n"
    );
    let labelled = h
        .kubectl(&["label", "namespace", &ns, &format!("{label}=yes")])
        .await;
    assert!(labelled.success(), "{}", labelled.stderr);
    h.apply_cluster_ok(&by_label).await;
    wait_binding_ready(&h, &name).await;
    let stream = format!("{ns}-cam");
    h.apply_ok(&camera("cam", &stream, "")).await;
    let vs = h.wait_ready("cam").await;
    assert_eq!(
        vs.status.unwrap().placement.unwrap().account_binding,
        Some(name.clone())
    );

    // The namespace leaves the selector: the binding selects nothing any more. Deleting it
    // waits for the stream placed with it (its cleanup needs the binding's identity)...
    let unlabelled = h
        .kubectl(&["label", "namespace", &ns, &format!("{label}-")])
        .await;
    assert!(unlabelled.success(), "{}", unlabelled.stderr);
    h.delete_binding_kept_for(&name, &format!("{ns}/cam")).await;

    // ...which is cleaned up with that identity, wherever its namespace is now; then the
    // binding goes.
    h.delete_ok("vs", "cam").await;
    h.wait_gone("cam").await;
    assert!(h.emulator.stream(&stream).is_none(), "deleted at AWS");
    h.wait_binding_gone(&name, Duration::from_secs(60)).await;

    // A binding that never served an object, whose namespace is relabelled away.
    let idle = format!("{ns}-idle");
    let idle_binding = by_label.replace(&name, &idle);
    let labelled = h
        .kubectl(&["label", "namespace", &ns, &format!("{label}=yes")])
        .await;
    assert!(labelled.success(), "{}", labelled.stderr);
    h.apply_cluster_ok(&idle_binding).await;
    wait_binding_ready(&h, &idle).await;
    let unlabelled = h
        .kubectl(&["label", "namespace", &ns, &format!("{label}-")])
        .await;
    assert!(unlabelled.success(), "{}", unlabelled.stderr);
    let deleted = h
        .kubectl(&["delete", "accountbinding", &idle, "--wait=false"])
        .await;
    assert!(deleted.success(), "{}", deleted.stderr);
    h.wait_binding_gone(&idle, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn a_required_binding_does_not_strand_what_an_unbound_namespace_already_owns() {
    let h = Harness::start("required-later").await;
    let ns = h.namespace.clone();
    let stream = format!("{ns}-cam");
    h.apply_ok(&camera("cam", &stream, "")).await;
    h.wait_ready("cam").await;

    // The operator restarts with --require-account-binding: new objects wait for a
    // binding, the existing one is still reconciled and deleted.
    let mut h = h;
    h.stop_operator();
    let _strict = h.spawn_operator(&OperatorOptions {
        namespaces: vec![ns.clone()],
        args: vec!["--require-account-binding".into()],
        ..OperatorOptions::default()
    });
    h.apply_ok(&camera("later", &format!("{ns}-later"), ""))
        .await;
    h.wait_synced_reason("later", "NoAccountBinding").await;
    let longer =
        camera("cam", &stream, "").replace("dataRetentionInHours: 24", "dataRetentionInHours: 36");
    h.apply_ok(&longer).await;
    h.wait_ready("cam").await;
    assert_eq!(
        h.emulator.stream(&stream).unwrap().data_retention_in_hours,
        36
    );
    h.delete_ok("vs", "cam").await;
    h.wait_gone("cam").await;
    assert!(h.emulator.stream(&stream).is_none(), "deleted at AWS");
}

#[tokio::test]
async fn a_binding_narrowed_while_creates_wait_in_the_rate_limiter_stops_the_ones_not_yet_made() {
    let h = Harness::without_operator("narrowed").await;
    let ns = h.namespace.clone();
    // A fiftieth of the quotas: one CreateStream a second, so the creates queue.
    let _operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![ns.clone()],
        args: vec!["--aws-quota-share=0.02".into()],
        ..OperatorOptions::default()
    });
    let name = format!("{ns}-queue");
    h.apply_cluster_ok(&binding(&name, &ns, "")).await;
    wait_binding_ready(&h, &name).await;
    const COUNT: usize = 8;
    let cameras: String = (0..COUNT)
        .map(|i| {
            format!(
                "---\n{}",
                camera(&format!("cam-{i}"), &format!("{ns}-cam-{i}"), "")
            )
        })
        .collect();
    h.apply_ok(&cameras).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.emulator.calls_of(Operation::CreateStream).succeeded < 2 {
        assert!(Instant::now() < deadline, "the creates never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The admin narrows the prefixes while the other creates wait for their turn.
    let narrowed = binding(&name, &ns, "").replace(
        &format!("streamNamePrefixes: [\"{ns}-\"]"),
        &format!("streamNamePrefixes: [\"{ns}-other-\"]"),
    );
    h.apply_cluster_ok(&narrowed).await;
    let at_edit = h.emulator.calls_of(Operation::CreateStream).succeeded;
    let settled = |vs: &kvs_operator::api::VideoStream| {
        vs.status.as_ref().is_some_and(|s| {
            find(&s.conditions, READY).is_some_and(|c| c.status == "True")
                || find(&s.conditions, SYNCED).is_some_and(|c| c.reason == "NameNotPermitted")
        })
    };
    for i in 0..COUNT {
        h.wait_for(&format!("cam-{i}"), "created or refused", settled)
            .await;
    }
    let created = h.emulator.calls_of(Operation::CreateStream).succeeded;
    println!("{at_edit} created when the binding was narrowed, {created} in all");
    assert!(
        created <= at_edit + 1,
        "creates decided before the edit went on after it: {at_edit} then {created}"
    );
    assert!(
        (created as usize) < COUNT,
        "the edit landed while creates were still queued"
    );
    let refused = (0..COUNT)
        .filter(|i| h.emulator.stream(&format!("{ns}-cam-{i}")).is_none())
        .count();
    assert_eq!(refused, COUNT - created as usize);
}

/// A new stream's first status waits for KVS to finish creating it (one status write instead
/// of two); a binding narrowed in that gap must not strand it. The operator remembers where
/// it made the stream until a status records it: the object becomes Ready with that
/// placement, and its deletion deletes the stream instead of leaving it behind.
#[tokio::test]
async fn a_binding_narrowed_before_a_new_stream_is_recorded_does_not_strand_it() {
    let h = Harness::without_operator("unrecorded").await;
    let ns = h.namespace.clone();
    // KVS takes 4 s to create; the operator's scan looks again after 5 s.
    h.emulator.set_delays(kvs_emulator::Delays {
        create: Duration::from_secs(4),
        update: Duration::from_millis(300),
        delete: Duration::from_millis(300),
    });
    let _operator = h.spawn_operator(&OperatorOptions {
        namespaces: vec![ns.clone()],
        args: vec![
            "--poll-interval=5s".into(),
            "--drift-scan-interval=1m".into(),
        ],
        ..OperatorOptions::default()
    });
    let name = format!("{ns}-team");
    h.apply_cluster_ok(&binding(&name, &ns, "")).await;
    wait_binding_ready(&h, &name).await;
    // A first VideoStream starts the account's scan, so that no first listing of it
    // happens to see the next stream while KVS is still creating it.
    h.apply_ok(&camera("first", &format!("{ns}-first"), ""))
        .await;
    h.wait_ready("first").await;
    // A look the first one asked for may still be due: let it pass (one poll interval).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let stream = format!("{ns}-cam");
    h.apply_ok(&camera("cam", &stream, "")).await;
    h.wait_stream(&stream, "made", |s| s.is_some()).await;
    // A second on, still nothing but the operator's memory says where the stream went.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let vs: Api<kvs_operator::api::VideoStream> = h.api();
    let unwritten = vs.get("cam").await.unwrap().status.unwrap_or_default();
    assert!(
        unwritten.stream_arn.is_none() && unwritten.conditions.is_empty(),
        "no status records the stream while KVS creates it: {unwritten:?}"
    );

    // The admin narrows the prefixes; the change wakes the object at once.
    let narrowed = binding(&name, &ns, "").replace(
        &format!("streamNamePrefixes: [\"{ns}-\"]"),
        &format!("streamNamePrefixes: [\"{ns}-other-\"]"),
    );
    h.apply_cluster_ok(&narrowed).await;
    wait_binding_seen(&h, &name).await;

    let ready = h.wait_ready("cam").await;
    assert_eq!(
        ready.status.unwrap().placement.as_deref(),
        Some(&PlacementStatus {
            account_binding: Some(name.clone()),
            account: h.emulator.account_id().to_string(),
            region: h.emulator.region().to_string(),
        }),
        "recorded with the binding it was made with"
    );
    h.delete_ok("vs", "cam").await;
    h.wait_gone("cam").await;
    h.wait_stream(&stream, "deleted with its VideoStream", |s| s.is_none())
        .await;
    h.delete_ok("vs", "first").await;
    h.wait_gone("first").await;
}
