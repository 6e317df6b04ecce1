//! Sync waves with the CRD and the VideoStreams in one repository, on a cluster that has
//! never seen the CRD: Argo CD applies the CRD first, and a later wave waits until the
//! VideoStreams of the earlier one are Healthy (through our health check).

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kvs_emulator::{Delays, Emulator};
use kvs_operator::api::VideoStream;
use kvs_operator::engine::conditions::{READY, find};
use kvs_testenv::ControlPlane;

use crate::argocd::{ArgoCd, Sync, application};
use crate::common::emulator_config;
use crate::git::Repo;
use crate::support::{Operator, OperatorOptions};
use crate::world::video_stream;

const NAMESPACE: &str = "cameras";
const CRD: &str = "videostreams.kvs-operator.dev";

/// `yaml` (one object) with the sync-wave annotation.
fn in_wave(yaml: &str, wave: i32) -> String {
    let mut object: serde_json::Value = serde_yaml_ng::from_str(yaml).expect("YAML");
    object["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = wave.to_string().into();
    serde_yaml_ng::to_string(&object).expect("YAML")
}

fn is_ready(vs: &VideoStream) -> bool {
    vs.status.as_ref().is_some_and(|s| {
        s.observed_generation == vs.metadata.generation
            && find(&s.conditions, READY).is_some_and(|c| c.status == "True")
    })
}

#[tokio::test]
async fn waves_apply_the_crd_first_and_hold_later_videostreams_until_earlier_ones_are_healthy() {
    // A cluster of its own: on the shared one the CRD is installed already.
    let plane = ControlPlane::start().await.expect("control plane starts");
    let argocd = ArgoCd::start(&plane).await;
    let emulator = Emulator::start(emulator_config(Duration::from_millis(300)))
        .await
        .expect("emulator starts");
    // Slow creation: the later wave must visibly wait for it.
    emulator.set_delays(Delays {
        create: Duration::from_secs(4),
        update: Duration::from_millis(300),
        delete: Duration::from_millis(300),
    });

    // Every CRD of the operator (`kvs-operator crd`) in wave -1, the cameras after it.
    let repo = Repo::create(&argocd, "platform").await;
    let mut crd_names = Vec::new();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("crds")).expect("crds/")
    {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let crd = std::fs::read_to_string(&path).expect("a CRD");
        repo.write(&file, &in_wave(&crd, -1));
        crd_names.push(file.trim_end_matches(".yaml").to_string());
    }
    assert!(crd_names.contains(&CRD.to_string()), "{crd_names:?}");
    repo.write(
        "first.yaml",
        &in_wave(&video_stream("first", "first-cam", 24), 0),
    );
    repo.write(
        "second.yaml",
        &in_wave(&video_stream("second", "second-cam", 24), 1),
    );
    let sha = repo.commit("the VideoStream CRD and two cameras").await;
    let out = argocd
        .apply(&application(
            "platform",
            &repo.url(),
            NAMESPACE,
            Sync::Automated { prune: true },
        ))
        .await;
    assert!(out.success(), "Application: {}", out.stderr);

    let client = plane.kube_client().await.expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let streams: Api<VideoStream> = Api::namespaced(client, NAMESPACE);
    let mut operator: Option<Operator> = None;
    let mut held = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "never synced: {:#?}",
            argocd.app("platform").await
        );
        let established = crds
            .get_opt(CRD)
            .await
            .expect("get CRD")
            .is_some_and(|crd| {
                crd.status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        // The operator refuses to start without its CRDs; in a cluster its Deployment would
        // restart until they are there.
        if established && operator.is_none() {
            let options = OperatorOptions {
                namespaces: vec![NAMESPACE.to_string()],
                ..OperatorOptions::default()
            };
            operator = Some(Operator::start(&plane, &emulator, &options));
        }
        if established {
            let first = streams.get_opt("first").await.expect("get");
            let second = streams.get_opt("second").await.expect("get");
            if let Some(second) = &second {
                let first = first
                    .as_ref()
                    .expect("the first wave exists before the second");
                assert!(
                    is_ready(first),
                    "wave 1 was applied while wave 0 was not Healthy: {first:#?}\n{second:#?}"
                );
            } else if first.as_ref().is_some_and(|f| !is_ready(f)) {
                held += 1;
            }
        }
        if argocd
            .app("platform")
            .await
            .is_some_and(|a| a.is_synced_and_healthy_at(&sha))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert!(
        held > 0,
        "the second wave was never seen waiting for the first"
    );
    let app = argocd.app("platform").await.expect("exists");
    assert_eq!(
        app.history, 1,
        "one sync did it all, without a failed attempt: {app:#?}"
    );
    assert!(app.conditions.is_empty(), "{:?}", app.conditions);
    for name in ["first", "second"] {
        let resource = app.resource("VideoStream", name).expect("managed");
        assert_eq!(resource.health, "Healthy", "{name}");
        assert!(
            emulator.stream(&format!("{name}-cam")).is_some(),
            "{name}-cam at AWS"
        );
    }
    assert_eq!(
        app.resource("CustomResourceDefinition", CRD)
            .map(|r| r.health.as_str()),
        Some("Healthy")
    );
    println!("the second wave waited for the first during {held} samples");
}
