//! The chart's RBAC, derived from what the operator really calls: the API server's audit
//! log of the operator running in its pods under the chart's ServiceAccount, through a
//! whole lifecycle (leader election, an AccountBinding, a VideoStream created, updated
//! with a repeated Event and deleted, its coordinates exported to a ConfigMap, a
//! SignalingChannel, the binding's deletion, a graceful stop). Every request it made was allowed, and every permission the chart binds to the
//! ServiceAccount was used. Nothing here lists today's resources or verbs: a new kind, a
//! new call or a new rule shows up by itself.

use std::collections::BTreeSet;
use std::io::BufRead;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams};
use kvs_testenv::service_account_user;
use serde_json::Value;

use super::{NodeTest, deployment_name};
use crate::rbac_rules::{Permission, permissions as granted};

/// A request of `user` in the audit log: the permission it needed, whether RBAC allowed
/// it, and (for messages) when and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Request {
    permission: Permission,
    allowed: bool,
    at: String,
    reason: String,
}

/// The resource requests `user` made, from the API server's audit log (non-resource
/// requests such as discovery carry no objectRef, and are allowed to everyone).
fn requests_of(log: &std::path::Path, user: &str) -> BTreeSet<Request> {
    let file = std::fs::File::open(log).expect("audit log");
    let mut out = BTreeSet::new();
    for line in std::io::BufReader::new(file).lines() {
        let event: Value = serde_json::from_str(&line.expect("line")).expect("audit event");
        if event["user"]["username"] != user || event["stage"] != "ResponseComplete" {
            continue;
        }
        let object = &event["objectRef"];
        let Some(resource) = object["resource"].as_str() else {
            continue;
        };
        let resource = match object["subresource"].as_str() {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_string(),
        };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        out.insert(Request {
            permission: (
                text(&object["apiGroup"]),
                resource,
                text(&event["verb"]),
                text(&object["name"]),
            ),
            allowed: event["annotations"]["authorization.k8s.io/decision"] == "allow",
            at: text(&event["requestReceivedTimestamp"]),
            reason: format!(
                "{}: {}",
                event["responseStatus"]["code"], event["responseStatus"]["message"]
            ),
        });
    }
    out
}

/// Whether `permission` (as granted) covers the request for `wanted`.
fn covers(permission: &Permission, wanted: &Permission) -> bool {
    permission.0 == wanted.0
        && permission.1 == wanted.1
        && permission.2 == wanted.2
        && (permission.3.is_empty() || permission.3 == wanted.3)
}

/// What the cluster binds to the ServiceAccount `namespace/name`, through any binding.
async fn bound_permissions(test: &NodeTest, namespace: &str, name: &str) -> BTreeSet<Permission> {
    let is_subject = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == name
                && s.namespace.as_deref() == Some(namespace)
        })
    };
    let mut out = BTreeSet::new();
    let client = test.client.clone();
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    let lp = ListParams::default();
    for binding in Api::<ClusterRoleBinding>::all(client.clone())
        .list(&lp)
        .await
        .expect("list")
        .items
    {
        if is_subject(&binding.subjects) {
            let role = cluster_roles
                .get(&binding.role_ref.name)
                .await
                .expect("ClusterRole");
            out.extend(granted(&role.rules.unwrap_or_default()));
        }
    }
    for binding in Api::<RoleBinding>::all(client.clone())
        .list(&lp)
        .await
        .expect("list")
        .items
    {
        if !is_subject(&binding.subjects) {
            continue;
        }
        let rules = if binding.role_ref.kind == "ClusterRole" {
            cluster_roles
                .get(&binding.role_ref.name)
                .await
                .expect("ClusterRole")
                .rules
        } else {
            let roles: Api<Role> = Api::namespaced(
                client.clone(),
                binding.metadata.namespace.as_deref().expect("ns"),
            );
            roles.get(&binding.role_ref.name).await.expect("Role").rules
        };
        out.extend(granted(&rules.unwrap_or_default()));
    }
    out
}

#[tokio::test]
async fn the_chart_grants_exactly_the_permissions_the_operator_uses() {
    let mut test = NodeTest::start().await;
    let release_ns = test.namespace("kvs-rbac").await;
    let cameras = test.namespace("rbac-cameras").await;
    let release = "rbac";
    test.install(release, &release_ns, "").await;
    // A member Lease a replica long gone left behind: the operator deletes it.
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(test.client.clone(), &release_ns);
    let ghost: k8s_openapi::api::coordination::v1::Lease = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": "kvs-operator-member-ghost",
            "labels": {"kvs-operator.dev/election": "kvs-operator", "kvs-operator.dev/lease": "member"},
        },
        "spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 4},
    }))
    .expect("a Lease");
    leases
        .create(&Default::default(), &ghost)
        .await
        .expect("the abandoned Lease");
    let account = deployment_name(release);
    let permissions = bound_permissions(&test, &release_ns, &account).await;
    assert!(!permissions.is_empty(), "nothing is bound to {account}");

    // An AccountBinding (a cluster admin's) places the namespace in a tenant's account.
    let binding = format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: AccountBinding\nmetadata: {{name: rbac-tenant}}\n\
         spec: {{namespaces: [{cameras}], streamNamePrefixes: [rbac-], \
         roleARN: \"arn:aws:iam::111111111111:role/rbac-tenant\", region: {region}}}\n",
        region = test.emulator.region()
    );
    let out = test
        .cluster
        .plane()
        .kubectl_with_stdin(["apply", "-f", "-"], binding)
        .await
        .expect("kubectl runs");
    assert!(out.success(), "{}", out.stderr);
    test.kubectl_ok(&[
        "wait",
        "accountbinding/rbac-tenant",
        "--for=condition=Ready",
        "--timeout=120s",
    ])
    .await;

    // A lifecycle: create, two increases with the same Event (the second is a repeat, which
    // Events record as a series), a decrease, and a delete through the finalizer; all along
    // the stream's coordinates exported to a ConfigMap (created, patched at every full
    // reconcile, deleted in cleanup).
    let exported = |retention: u32| {
        format!(
            "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata: {{name: door}}\n\
             spec: {{streamName: rbac-door, deviceName: cam-01, dataRetentionInHours: {retention}, \
             exportTo: {{configMapName: door-kvs}}}}\n"
        )
    };
    for retention in [24, 48, 24, 48] {
        let out = test
            .cluster
            .plane()
            .kubectl_with_stdin(["apply", "-n", &cameras, "-f", "-"], exported(retention))
            .await
            .expect("kubectl runs");
        assert!(out.success(), "{}", out.stderr);
        test.wait_ready(&cameras, "door").await;
    }
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(test.client.clone(), &cameras);
    assert!(
        configmaps.get_opt("door-kvs").await.expect("get").is_some(),
        "the coordinates were exported"
    );
    test.kubectl_ok(&[
        "delete",
        "videostream",
        "door",
        "-n",
        &cameras,
        "--timeout=60s",
    ])
    .await;
    assert!(
        test.emulator.stream("rbac-door").is_none(),
        "the stream was deleted"
    );
    assert!(
        configmaps.get_opt("door-kvs").await.expect("get").is_none(),
        "the export was deleted with it"
    );
    // A SignalingChannel through the same engine: created, Ready, deleted.
    let channel = "apiVersion: kvs-operator.dev/v1alpha1\nkind: SignalingChannel\n\
                   metadata: {name: bell}\nspec: {channelName: rbac-bell, messageTtlSeconds: 60}\n";
    let out = test
        .cluster
        .plane()
        .kubectl_with_stdin(["apply", "-n", &cameras, "-f", "-"], channel)
        .await
        .expect("kubectl runs");
    assert!(out.success(), "{}", out.stderr);
    test.kubectl_ok(&[
        "wait",
        "signalingchannel/bell",
        "-n",
        &cameras,
        "--for=condition=Ready",
        "--timeout=120s",
    ])
    .await;
    test.kubectl_ok(&[
        "delete",
        "signalingchannel",
        "bell",
        "-n",
        &cameras,
        "--timeout=60s",
    ])
    .await;
    // The binding goes once nothing it serves has a stream: its finalizer is released.
    test.kubectl_ok(&["delete", "accountbinding", "rbac-tenant", "--timeout=60s"])
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while leases
        .get_opt("kvs-operator-member-ghost")
        .await
        .expect("get")
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned Lease was never deleted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // A graceful stop, as a rollout or a scale-down makes one: the leader lets go of the
    // Lease. (Not `helm uninstall`, which deletes the Roles while the pods still stop.)
    test.kubectl_ok(&[
        "scale",
        &format!("deployment/{account}"),
        "-n",
        &release_ns,
        "--replicas=0",
    ])
    .await;
    test.kubectl_ok(&[
        "wait",
        "--for=delete",
        "pods",
        "-l",
        "app.kubernetes.io/name=kvs-operator",
        "-n",
        &release_ns,
        "--timeout=120s",
    ])
    .await;
    let user = service_account_user(&release_ns, &account);
    let requests = requests_of(&test.cluster.plane().audit_log(), &user);
    assert!(
        !requests.is_empty(),
        "no request of {user} in the audit log"
    );
    let refused: Vec<&Request> = requests.iter().filter(|r| !r.allowed).collect();
    assert!(
        refused.is_empty(),
        "the chart's RBAC refused the operator: {refused:#?}"
    );
    let unused: Vec<&Permission> = permissions
        .iter()
        .filter(|p| !requests.iter().any(|r| covers(p, &r.permission)))
        .collect();
    assert!(
        unused.is_empty(),
        "the chart grants what the operator never used: {unused:#?}\nit used: {:#?}",
        requests
            .iter()
            .map(|r| &r.permission)
            .collect::<BTreeSet<_>>()
    );
    test.finish().await;
}
