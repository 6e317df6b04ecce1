//! `helm install`, `helm upgrade` and `helm uninstall` of the chart on a real node: the
//! operator's pods pass their probes under the chart's securityContext, reconcile through
//! the projected ServiceAccount token and the in-cluster config, are scraped through the
//! metrics Service, roll on an upgrade without losing or duplicating a stream, and leave
//! the CRDs (which the release installed) and the streams behind when uninstalled.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kvs_emulator::Operation;
use kvs_operator::api::VideoStream;

use super::{NodeTest, deployment_name, get_raw, sample};

fn pod_names(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

#[tokio::test]
async fn the_installed_chart_runs_the_operator_in_pods_and_upgrades_and_uninstalls_cleanly() {
    let mut test = NodeTest::start().await;
    let release_ns = test.namespace("kvs-system").await;
    let cameras = test.namespace("cameras").await;
    let release = "kvs";
    test.install(release, &release_ns, "").await;
    let deployment = deployment_name(release);

    // Two pods, Ready through their probes, running as the chart locks them down.
    let pods = test.operator_pods(&release_ns).await;
    assert_eq!(pods.len(), 2, "{:?}", pod_names(&pods));
    for pod in &pods {
        let spec = pod.spec.as_ref().expect("spec");
        let status = pod.status.as_ref().expect("status");
        let container = &status.container_statuses.as_ref().expect("statuses")[0];
        assert!(container.ready, "{container:?}");
        assert_eq!(container.restart_count, 0, "{container:?}");
        assert_eq!(container.image, super::image_reference(), "the local image");
        let security = spec.containers[0]
            .security_context
            .as_ref()
            .expect("securityContext");
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.run_as_non_root, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(
            spec.security_context.as_ref().and_then(|s| s.run_as_user),
            Some(65532)
        );
        // The token the operator authenticates with: projected by the ServiceAccount
        // admission plugin, for the chart's ServiceAccount.
        assert_eq!(
            spec.service_account_name.as_deref(),
            Some(deployment.as_str())
        );
        let projected = spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.projected.as_ref())
            .flat_map(|p| p.sources.iter().flatten())
            .any(|s| s.service_account_token.is_some());
        assert!(projected, "no projected token: {:?}", spec.volumes);
        let env = spec.containers[0].env.iter().flatten();
        assert!(
            env.clone().all(|e| e.name != "KUBECONFIG"),
            "in-cluster config only"
        );
    }
    let leader = test.leader(&release_ns).await;
    assert!(pod_names(&pods).contains(&leader), "{leader} leads");

    // A VideoStream reconciled by the pod, as the pod.
    test.apply_stream(&cameras, "front-door", "node-front-door", 24)
        .await;
    let vs = test.wait_ready(&cameras, "front-door").await;
    let stream = test
        .emulator
        .stream("node-front-door")
        .expect("stream created");
    let arn = stream.stream_arn.clone();
    assert_eq!(vs.status.and_then(|s| s.stream_arn), Some(arn.clone()));
    let created = test
        .wait_event(&cameras, "front-door", "CreatedStream")
        .await;
    // Reported by one of the chart's pods: the shard may have moved to the second replica
    // between the Lease read above and the create (rendezvous hashing over memberships).
    let reporter = created.reporting_instance.unwrap_or_default();
    assert!(
        pod_names(&pods).contains(&reporter),
        "CreatedStream reported by {reporter}, not one of the chart's pods"
    );

    // The metrics Service, scraped through the cluster (the API server's service proxy
    // dials the pods' addresses), with the Content-Type its OpenMetrics body needs.
    let service = format!(
        "/api/v1/namespaces/{release_ns}/services/{deployment}-metrics:metrics/proxy/metrics"
    );
    let (status, content_type, body) = get_raw(&test, &service).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("# TYPE kvs_operator_leader gauge"), "{body}");
    // The pod holding the operator's own shard says so and counts the reconcile it did. Read
    // again until the two agree: the shard can move to the second replica between the
    // Lease read and the scrape (rendezvous hashing over memberships).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let leader = loop {
        let holder = test.leader(&release_ns).await;
        let metrics = format!("/api/v1/namespaces/{release_ns}/pods/{holder}:8080/proxy/metrics");
        let (_, _, body) = get_raw(&test, &metrics).await;
        let leads = sample(&body, "kvs_operator_leader") == Some(1.0);
        let reconciled = sample(
            &body,
            "kvs_operator_reconciles_total{kind=\"VideoStream\",outcome=\"success\"}",
        )
        .unwrap_or(0.0)
            >= 1.0;
        if leads && reconciled {
            break holder;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{holder} holds the Lease of the operator's own account but says otherwise: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let probe = format!("/api/v1/namespaces/{release_ns}/pods/{leader}:8080/proxy/healthz");
    assert_eq!(get_raw(&test, &probe).await.0, 200);

    // helm upgrade with changed values rolls every pod; the stream is the same one, and
    // no AWS call created, deleted or changed anything.
    let replica_sets: Api<ReplicaSet> = Api::namespaced(test.client.clone(), &release_ns);
    let before = replica_sets
        .list(&ListParams::default())
        .await
        .expect("rs")
        .items
        .len();
    test.emulator.reset_calls();
    test.upgrade(
        release,
        &release_ns,
        "operator: {logLevel: \"info,kvs_operator=debug\"}\n",
    )
    .await;
    let rolled = test.operator_pods(&release_ns).await;
    assert_eq!(rolled.len(), 2);
    for name in pod_names(&rolled) {
        assert!(
            !pod_names(&pods).contains(&name),
            "{name} survived the upgrade"
        );
    }
    let after = replica_sets
        .list(&ListParams::default())
        .await
        .expect("rs")
        .items
        .len();
    assert_eq!(after, before + 1, "a new ReplicaSet");
    test.wait_ready(&cameras, "front-door").await;
    // One of the new pods takes the Lease over (the old leader released it on SIGTERM).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let holder = test.leader(&release_ns).await;
        if pod_names(&rolled).contains(&holder) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{holder} still leads");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    test.apply_stream(&cameras, "front-door", "node-front-door", 48)
        .await;
    test.wait_ready(&cameras, "front-door").await;
    let calls = test.emulator.calls();
    let count = |op: Operation| calls.get(&op).map_or(0, |c| c.succeeded);
    assert_eq!(
        (
            count(Operation::CreateStream),
            count(Operation::DeleteStream),
            count(Operation::UpdateDataRetention)
        ),
        (0, 0, 1),
        "{calls:#?}"
    );
    let stream = test
        .emulator
        .stream("node-front-door")
        .expect("stream kept");
    assert_eq!(stream.stream_arn, arn);
    assert_eq!(test.emulator.streams().len(), 1);

    // helm uninstall removes the operator but keeps the CRDs, though the release holds
    // them (resource-policy keep), the VideoStream and the stream.
    let manifest = test
        .helm(&["get", "manifest", release, "--namespace", &release_ns])
        .await;
    assert_eq!(
        manifest
            .stdout
            .matches("kind: CustomResourceDefinition")
            .count(),
        3,
        "the release holds the CRDs"
    );
    let out = test
        .helm(&["uninstall", release, "--namespace", &release_ns, "--wait"])
        .await;
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("kept due to the resource policy"),
        "{}",
        out.stdout
    );
    assert!(test.operator_pods(&release_ns).await.is_empty());
    test.kubectl_ok(&[
        "get",
        "crd",
        "videostreams.kvs-operator.dev",
        "signalingchannels.kvs-operator.dev",
        "accountbindings.kvs-operator.dev",
    ])
    .await;
    let api: Api<VideoStream> = Api::namespaced(test.client.clone(), &cameras);
    assert!(api.get_opt("front-door").await.expect("get").is_some());
    assert!(test.emulator.stream("node-front-door").is_some());
    assert_eq!(test.emulator.calls_of(Operation::DeleteStream).total, 0);
    test.finish().await;
}
