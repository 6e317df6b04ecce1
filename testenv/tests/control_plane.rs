//! The harness against the real kube-apiserver: every behaviour the operator's
//! CRD and e2e tests rely on, on one control plane shared by this binary.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kvs_testenv::{ControlPlane, Error, service_account_user, shared};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The shared plane with the Widget CRD installed (once per binary).
async fn plane() -> &'static ControlPlane {
    static CRDS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    kvs_testenv::prerequisites::require_or_exit(&[kvs_testenv::prerequisites::Need::ControlPlane]);
    let plane = shared().await.expect("shared control plane");
    CRDS.get_or_init(|| async {
        let applied = plane
            .apply_dir(format!("{FIXTURES}/crds"))
            .await
            .expect("install CRDs");
        assert_eq!(
            applied,
            ["customresourcedefinition.apiextensions.k8s.io/widgets.testenv.kvs.example.com"]
        );
    })
    .await;
    plane
}

fn widget(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: testenv.kvs.example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

async fn apply(plane: &ControlPlane, namespace: &str, manifest: &str) -> kvs_testenv::Output {
    plane
        .kubectl_with_stdin(["apply", "-n", namespace, "-f", "-"], manifest)
        .await
        .expect("run kubectl")
}

async fn get_json(plane: &ControlPlane, namespace: &str, object: &str) -> Value {
    let out = plane
        .kubectl(["get", "-n", namespace, object, "-o", "json"])
        .await
        .unwrap()
        .check()
        .unwrap();
    serde_json::from_str(&out.stdout).unwrap()
}

#[tokio::test]
async fn kubectl_version_shows_the_pinned_server() {
    let plane = plane().await;
    let out = plane
        .kubectl(["version", "-o", "json"])
        .await
        .unwrap()
        .check()
        .unwrap();
    let version: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.36.3");
    assert_eq!(version["clientVersion"]["gitVersion"], "v1.36.3");

    let info = plane
        .kube_client()
        .await
        .unwrap()
        .apiserver_version()
        .await
        .unwrap();
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "36"));
}

#[tokio::test]
async fn invalid_objects_are_refused_naming_the_field() {
    let plane = plane().await;
    let ns = plane.unique_namespace("invalid").await.unwrap();

    let out = apply(plane, &ns, &widget("big", "  name: big\n  size: 11\n")).await;
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains("spec.size"), "{}", out.stderr);
    assert!(
        out.stderr.contains("less than or equal to 10"),
        "{}",
        out.stderr
    );

    let out = apply(plane, &ns, &widget("anonymous", "  size: 1\n")).await;
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains("spec.name: Required value"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn immutable_field_edit_is_refused() {
    let plane = plane().await;
    let ns = plane.unique_namespace("immutable").await.unwrap();
    apply(plane, &ns, &widget("w", "  name: first\n  size: 1\n"))
        .await
        .check()
        .unwrap();

    let out = apply(plane, &ns, &widget("w", "  name: second\n  size: 1\n")).await;
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains("spec.name"), "{}", out.stderr);
    assert!(out.stderr.contains("name is immutable"), "{}", out.stderr);

    // Mutable fields still change.
    apply(plane, &ns, &widget("w", "  name: first\n  size: 2\n"))
        .await
        .check()
        .unwrap();
    assert_eq!(get_json(plane, &ns, "widget/w").await["spec"]["size"], 2);
}

#[tokio::test]
async fn status_is_a_subresource() {
    let plane = plane().await;
    let ns = plane.unique_namespace("status").await.unwrap();
    apply(plane, &ns, &widget("w", "  name: w\n  size: 1\n"))
        .await
        .check()
        .unwrap();

    let patch = |subresource: Option<&'static str>, phase: &'static str| {
        let ns = ns.clone();
        async move {
            let body = format!(r#"{{"status":{{"phase":"{phase}"}}}}"#);
            let mut args = vec!["patch", "-n", &ns, "widget/w", "--type=merge", "-p", &body];
            if let Some(sub) = subresource {
                args.push(sub);
            }
            plane.kubectl(args).await.unwrap().check().unwrap();
        }
    };
    patch(Some("--subresource=status"), "Ready").await;
    assert_eq!(
        get_json(plane, &ns, "widget/w").await["status"]["phase"],
        "Ready"
    );
    // Through the main resource, status changes are dropped.
    patch(None, "Hacked").await;
    assert_eq!(
        get_json(plane, &ns, "widget/w").await["status"]["phase"],
        "Ready"
    );
}

#[tokio::test]
async fn finalizer_blocks_deletion_until_removed() {
    let plane = plane().await;
    let ns = plane.unique_namespace("finalizer").await.unwrap();
    let held = "apiVersion: testenv.kvs.example.com/v1\nkind: Widget\nmetadata:\n  name: held\n  \
                finalizers: [testenv.kvs.example.com/hold]\nspec:\n  name: held\n  size: 1\n";
    apply(plane, &ns, held).await.check().unwrap();

    plane
        .kubectl(["delete", "-n", &ns, "widget/held", "--wait=false"])
        .await
        .unwrap()
        .check()
        .unwrap();
    let object = get_json(plane, &ns, "widget/held").await;
    assert!(
        object["metadata"]["deletionTimestamp"].is_string(),
        "{object}"
    );

    plane
        .kubectl([
            "patch",
            "-n",
            &ns,
            "widget/held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .await
        .unwrap()
        .check()
        .unwrap();
    let out = plane
        .kubectl([
            "get",
            "-n",
            &ns,
            "widget/held",
            "--ignore-not-found",
            "-o",
            "name",
        ])
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(out.stdout, "", "the widget should be gone");
}

#[tokio::test]
async fn rbac_denies_a_service_account_without_permissions() {
    let plane = plane().await;
    let ns = plane.unique_namespace("rbac").await.unwrap();
    let robot = service_account_user(&ns, "robot");

    // kubectl through the impersonating kubeconfig, and kube-rs impersonating.
    let kubeconfig = plane.service_account_kubeconfig(&ns, "robot").unwrap();
    let kubeconfig_arg = format!("--kubeconfig={}", kubeconfig.display());
    let out = plane
        .kubectl([&kubeconfig_arg, "get", "widgets", "-n", &ns])
        .await
        .unwrap();
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains("Forbidden"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("\"{robot}\"")),
        "{}",
        out.stderr
    );

    let client = plane.kube_client_as(&robot, &[]).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    match configmaps.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403, got {other:?}"),
    }

    // Granting the permission makes the same request pass: RBAC decides, not a blanket deny.
    let grant = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: read-configmaps\n\
         rules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [list]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: robot\n\
         roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: read-configmaps\n\
         subjects:\n- kind: ServiceAccount\n  name: robot\n  namespace: {ns}\n"
    );
    apply(plane, &ns, &grant).await.check().unwrap();
    let allowed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if configmaps.list(&ListParams::default()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(allowed.is_ok(), "the RoleBinding never took effect");
    let out = plane
        .kubectl([
            "--as", &robot, "auth", "can-i", "list", "widgets", "-n", &ns,
        ])
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), "no", "{out:?}");
}

#[tokio::test]
async fn watches_see_changes() {
    let plane = plane().await;
    let ns = plane.unique_namespace("watch").await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(plane.kube_client().await.unwrap(), &ns);
    let version = configmaps
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = configmaps
        .watch(&WatchParams::default().timeout(30), &version)
        .await
        .unwrap()
        .boxed();

    let mut configmap = ConfigMap::default();
    configmap.metadata.name = Some("watched".into());
    configmaps
        .create(&PostParams::default(), &configmap)
        .await
        .unwrap();

    let event = tokio::time::timeout(Duration::from_secs(30), events.try_next())
        .await
        .expect("a watch event in time")
        .unwrap();
    match event {
        Some(WatchEvent::Added(added)) => {
            assert_eq!(added.metadata.name.as_deref(), Some("watched"))
        }
        other => panic!("expected Added, got {other:?}"),
    }
}

#[tokio::test]
async fn helm_installs_a_chart() {
    let plane = plane().await;
    let ns = plane.unique_namespace("helm").await.unwrap();
    plane
        .helm([
            "install",
            "probe",
            &format!("{FIXTURES}/chart"),
            "-n",
            &ns,
            "--set",
            "greeting=hi",
            "--wait",
        ])
        .await
        .unwrap()
        .check()
        .unwrap();
    let configmap = get_json(plane, &ns, "configmap/probe-probe").await;
    assert_eq!(configmap["data"]["greeting"], "hi");
    let out = plane
        .helm(["list", "-n", &ns, "-o", "json"])
        .await
        .unwrap()
        .check()
        .unwrap();
    let releases: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(releases[0]["status"], "deployed", "{releases}");
}

#[tokio::test]
async fn namespaces_are_per_test() {
    let plane = plane().await;
    let first = plane.unique_namespace("mine").await.unwrap();
    let second = plane.unique_namespace("mine").await.unwrap();
    assert_ne!(first, second);
    let err = plane.create_namespace(&first).await.unwrap_err();
    assert!(
        matches!(&err, Error::Kube(kube::Error::Api(s)) if s.code == 409),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_binaries_fail_with_the_build_command() {
    let err = ControlPlane::builder()
        .bin_dir("/nonexistent/kvs-testenv-bin")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingBinary { .. }), "{err:?}");
    assert!(
        err.to_string().contains("hack/control-plane.sh build"),
        "{err}"
    );
}

#[tokio::test]
async fn server_side_apply_tracks_field_owners() {
    let plane = plane().await;
    let ns = plane.unique_namespace("ssa").await.unwrap();
    let manifest = widget("w", "  name: w\n  size: 1\n");
    let apply_as = |manager: &'static str, manifest: String| {
        let ns = ns.clone();
        async move {
            let manager = format!("--field-manager={manager}");
            plane
                .kubectl_with_stdin(
                    ["apply", "--server-side", &manager, "-n", &ns, "-f", "-"],
                    manifest,
                )
                .await
                .unwrap()
        }
    };
    apply_as("alice", manifest).await.check().unwrap();
    let out = apply_as("bob", widget("w", "  name: w\n  size: 2\n")).await;
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains("conflict"), "{}", out.stderr);
    assert!(out.stderr.contains(".spec.size"), "{}", out.stderr);
}
