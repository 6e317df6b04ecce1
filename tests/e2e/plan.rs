//! `kvs-operator plan` against the real API server and the emulator: it reads (the
//! emulator's call log shows no mutation at all), it says what the operator then does
//! (each object's planned calls equal, in order, the mutating calls the emulator records
//! once the real operator has applied the manifests, prune included), it marks what is
//! destructive, exits 0/2/1, and refuses a malformed manifest as the API server would. The
//! same binary works as `kubectl kvs`, through kubectl's own plugin mechanism.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_kinesisvideo::types::{ChannelType, SingleMasterConfiguration, Tag};
use kvs_operator::api::{CLUSTER_TAG, DELETION_PROTECTION_ANNOTATION, OWNER_TAG, SignalingChannel};
use kvs_testenv::Output;
use serde_json::Value;

use crate::support::{Harness, sdk_client};
use crate::tenancy::{binding, wait_binding_ready};

/// The label the test's manifests carry, for `--prune -l`.
const PART_OF: &str = "app.kubernetes.io/part-of=plan-test";

/// Runs `kvs-operator plan` (or, through `program`, anything else) against the harness's
/// cluster and emulator, as a CI job would.
async fn run(h: &Harness, program: &Path, args: &[&str], path: Option<&Path>) -> Output {
    let mut command = h.plane.command(program);
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", h.emulator.url())
        .env("AWS_REGION", h.emulator.region())
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if let Some(dir) = path {
        let inherited = std::env::var("PATH").unwrap_or_default();
        command.env(
            "PATH",
            format!(
                "{}:{}:{inherited}",
                dir.display(),
                h.plane.bin_dir().display()
            ),
        );
    }
    kvs_testenv::run(command, None).await.expect("runs")
}

fn operator() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kvs-operator"))
}

async fn plan(h: &Harness, args: &[&str]) -> Output {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    run(h, &operator(), &all, None).await
}

/// The JSON plan of `dir`: (exit code, report).
async fn plan_json(h: &Harness, dir: &Path, extra: &[&str]) -> (i32, Value) {
    let dir = dir.display().to_string();
    let mut args = vec!["-f", &dir, "-n", &h.namespace, "-o", "json"];
    args.extend_from_slice(extra);
    let out = plan(h, &args).await;
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", out.stdout, out.stderr));
    (out.status.code().expect("exit code"), report)
}

/// Each object's planned operations, by `Kind/name`.
fn planned(report: &Value) -> BTreeMap<String, Vec<String>> {
    report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            let ops = o["calls"]
                .as_array()
                .expect("calls")
                .iter()
                .map(|c| c["operation"].as_str().expect("operation").to_string())
                .collect();
            (
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or_default(),
                    o["name"].as_str().unwrap_or_default()
                ),
                ops,
            )
        })
        .collect()
}

fn entry<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or_default(),
                o["name"].as_str().unwrap_or_default()
            ) == key
        })
        .unwrap_or_else(|| panic!("no {key} in {report:#}"))
}

/// The mutating calls the emulator recorded after `mark` on stream or channel `name`.
fn recorded(h: &Harness, mark: u64, name: &str) -> Vec<String> {
    h.mutations_since(mark)
        .into_iter()
        .filter(|r| r.succeeded())
        .filter(|r| r.stream.as_deref() == Some(name) || r.channel.as_deref() == Some(name))
        .map(|r| r.operation.to_string())
        .collect()
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).expect("manifest written");
}

fn video_stream(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\n  labels: {{app.kubernetes.io/part-of: plan-test}}\nspec:\n{spec}"
    )
}

/// A fresh directory for one test's manifests.
fn manifests_dir(h: &Harness) -> PathBuf {
    let dir = h.plane.dir().join(format!("plan-{}", h.namespace));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

#[tokio::test]
async fn the_plan_reads_only_and_is_what_the_operator_then_does() {
    let h = Harness::without_operator("plan").await;
    let ns = h.namespace.clone();
    let cluster = h.cluster_id().await;
    // Adoption allowed by the namespace's binding, whatever unbound namespaces may do.
    h.apply_cluster_ok(&binding(&ns, &ns, "  adoption: Allowed\n"))
        .await;
    let aws = sdk_client(&h.emulator);
    let (door, legacy, lobby, taken, bell) = (
        format!("{ns}-door"),
        format!("{ns}-legacy"),
        format!("{ns}-lobby"),
        format!("{ns}-taken"),
        format!("{ns}-bell"),
    );
    // Ours already, drifted from what the manifest will say.
    aws.create_stream()
        .stream_name(&door)
        .device_name("cam-01")
        .data_retention_in_hours(48)
        .tags(OWNER_TAG, format!("{ns}/door"))
        .tags(CLUSTER_TAG, &cluster)
        .tags("team", "old")
        .tags("extra", "x")
        .send()
        .await
        .expect("door");
    // Made by hand (Terraform, say): the manifest adopts it.
    aws.create_stream()
        .stream_name(&legacy)
        .device_name("cam-08")
        .data_retention_in_hours(24)
        .send()
        .await
        .expect("legacy");
    // Another namespace's.
    aws.create_stream()
        .stream_name(&taken)
        .tags(OWNER_TAG, "elsewhere/taken")
        .tags(CLUSTER_TAG, &cluster)
        .send()
        .await
        .expect("taken");
    aws.create_signaling_channel()
        .channel_name(&bell)
        .channel_type(ChannelType::SingleMaster)
        .single_master_configuration(
            SingleMasterConfiguration::builder()
                .message_ttl_seconds(60)
                .build(),
        )
        .tags(
            Tag::builder()
                .key(OWNER_TAG)
                .value(format!("{ns}/bell"))
                .build()
                .expect("tag"),
        )
        .tags(
            Tag::builder()
                .key(CLUSTER_TAG)
                .value(&cluster)
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("bell");
    for name in [&door, &legacy, &taken] {
        h.wait_stream(name, "ACTIVE", |s| {
            s.is_some_and(|s| s.status == kvs_emulator::StreamStatus::Active)
        })
        .await;
    }
    h.wait_channel(&bell, "ACTIVE", |c| {
        c.is_some_and(|c| c.channel_status == kvs_emulator::StreamStatus::Active)
    })
    .await;

    let dir = manifests_dir(&h);
    write(
        &dir,
        "door.yaml",
        &video_stream(
            "door",
            &format!(
                "  streamName: {door}\n  deviceName: cam-02\n  dataRetentionInHours: 24\n  tags: {{team: security}}\n"
            ),
        ),
    );
    write(
        &dir,
        "legacy.yaml",
        &video_stream(
            "legacy",
            &format!(
                "  streamName: {legacy}\n  deviceName: cam-09\n  adoptExisting: true\n  deletionPolicy: Retain\n"
            ),
        ),
    );
    write(
        &dir,
        "lobby.yaml",
        &video_stream(
            "lobby",
            &format!(
                "  streamName: {lobby}\n  dataRetentionInHours: 72\n  storageTier: WARM\n  tags: {{site: lobby}}\n"
            ),
        ),
    );
    write(
        &dir,
        "taken.yaml",
        &video_stream("taken", &format!("  streamName: {taken}\n")),
    );
    write(
        &dir,
        "outside.yaml",
        &video_stream("outside", "  streamName: not-this-namespace\n"),
    );
    write(
        &dir,
        "bell.yaml",
        &format!(
            "apiVersion: kvs-operator.dev/v1alpha1\nkind: SignalingChannel\nmetadata:\n  name: bell\n  labels: {{app.kubernetes.io/part-of: plan-test}}\nspec:\n  channelName: {bell}\n  messageTtlSeconds: 30\n  mediaStorage: {{videoStreamName: door}}\n"
        ),
    );
    write(
        &dir,
        "notes.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata: {a: b}\n",
    );

    // The plan reads, and nothing but reads.
    let mark = h.log_mark();
    let (code, report) = plan_json(&h, &dir, &[]).await;
    let calls = h.emulator.call_log_since(mark);
    assert!(
        calls.iter().all(|r| !r.operation.is_mutation()),
        "the plan mutated AWS: {calls:#?}"
    );
    assert!(
        calls
            .iter()
            .any(|r| r.operation == kvs_emulator::Operation::DescribeStream)
            && calls
                .iter()
                .any(|r| r.operation == kvs_emulator::Operation::DescribeSignalingChannel),
        "the plan never observed AWS: {calls:#?}"
    );
    assert_eq!(code, 2, "{report:#}");
    let plans = planned(&report);
    let ops = |key: &str| plans[key].iter().map(String::as_str).collect::<Vec<_>>();
    // "extra" was written by someone else (the operator never applied it): shared tags
    // leave it, in the plan as in the operator.
    assert_eq!(
        ops("VideoStream/door"),
        ["UpdateStream", "UpdateDataRetention", "TagStream"]
    );
    assert_eq!(ops("VideoStream/legacy"), ["TagStream", "UpdateStream"]);
    assert_eq!(ops("VideoStream/lobby"), ["CreateStream"]);
    assert_eq!(
        ops("SignalingChannel/bell"),
        ["UpdateSignalingChannel", "UpdateMediaStorageConfiguration"]
    );
    assert!(ops("VideoStream/taken").is_empty());
    assert!(ops("VideoStream/outside").is_empty());
    // What is destructive, and why.
    let door_calls = &entry(&report, "VideoStream/door")["calls"];
    assert!(
        door_calls[1]["destructive"]
            .as_str()
            .is_some_and(|d| d.contains("retention decrease")),
        "{door_calls:#}"
    );
    assert!(door_calls[0]["destructive"].is_null());
    assert!(
        entry(&report, "VideoStream/legacy")["calls"][0]["destructive"]
            .as_str()
            .is_some_and(|d| d.contains("adopts"))
    );
    let taken_entry = entry(&report, "VideoStream/taken");
    assert_eq!(
        (
            taken_entry["verdict"].as_str(),
            taken_entry["reason"].as_str()
        ),
        (Some("refused"), Some("NotOwned"))
    );
    assert!(
        taken_entry["message"]
            .as_str()
            .is_some_and(|m| m.contains("elsewhere/taken"))
    );
    let outside = entry(&report, "VideoStream/outside");
    assert_eq!(outside["reason"], "NameNotPermitted");
    assert_eq!(report["summary"]["destructive"], 3, "door, legacy, taken");
    assert!(
        report["ignored"][0]
            .as_str()
            .is_some_and(|i| i.contains("notes.yaml") && i.contains("ConfigMap"))
    );

    // The text report says the same to a person.
    let dir_arg = dir.display().to_string();
    let text = plan(&h, &["-f", &dir_arg, "-n", &ns]).await;
    assert_eq!(
        text.status.code(),
        Some(2),
        "{}{}",
        text.stdout,
        text.stderr
    );
    assert!(
        text.stdout.contains("! UpdateDataRetention"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("dataRetentionInHours: 48 -> 24"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("REFUSED (NotOwned)"),
        "{}",
        text.stdout
    );

    // Now the real operator applies the same manifests.
    let h = h.with_operator(std::slice::from_ref(&ns));
    wait_binding_ready(&h, &ns).await;
    let mark = h.log_mark();
    let out = h.kubectl(&["apply", "-n", &ns, "-f", &dir_arg]).await;
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
    for name in ["door", "legacy", "lobby"] {
        h.wait_ready(name).await;
    }
    h.wait_ready_kind::<SignalingChannel>("bell").await;
    h.wait_channel(&bell, "storing into door", |c| {
        c.is_some_and(|c| c.media_storage.stream_arn.is_some())
    })
    .await;
    h.wait_synced_reason("taken", "NotOwned").await;
    h.wait_synced_reason("outside", "NameNotPermitted").await;
    for (key, resource) in [
        ("VideoStream/door", &door),
        ("VideoStream/legacy", &legacy),
        ("VideoStream/lobby", &lobby),
        ("VideoStream/taken", &taken),
        ("SignalingChannel/bell", &bell),
    ] {
        assert_eq!(
            recorded(&h, mark, resource),
            plans[key],
            "{key}: planned vs done"
        );
    }
    assert!(recorded(&h, mark, "not-this-namespace").is_empty());

    // Applied: in sync, exit 0.
    for refused in ["taken.yaml", "outside.yaml"] {
        std::fs::remove_file(dir.join(refused)).expect("removed");
    }
    let (code, report) = plan_json(&h, &dir, &[]).await;
    assert_eq!(code, 0, "{report:#}");
    assert!(planned(&report).values().all(Vec::is_empty), "{report:#}");

    // A prune: door (Delete) and legacy (Retain) leave the manifests, and so did taken
    // (protected now) and outside (which has nothing at AWS).
    for gone in ["door.yaml", "legacy.yaml"] {
        std::fs::remove_file(dir.join(gone)).expect("removed");
    }
    let out = h
        .kubectl(&[
            "annotate",
            "videostream",
            "taken",
            "-n",
            &ns,
            &format!("{DELETION_PROTECTION_ANNOTATION}=true"),
        ])
        .await;
    assert!(out.success(), "{}", out.stderr);
    let mark = h.log_mark();
    let (code, report) = plan_json(&h, &dir, &["--prune", "-l", PART_OF]).await;
    assert!(
        h.mutations_since(mark).is_empty(),
        "a prune plan mutated AWS"
    );
    assert_eq!(code, 2, "{report:#}");
    let prune = planned(&report);
    assert_eq!(prune["VideoStream/door"], ["DeleteStream"]);
    assert_eq!(prune["VideoStream/legacy"], ["UntagStream"]);
    let door_prune = entry(&report, "VideoStream/door");
    assert_eq!(door_prune["action"], "prune");
    assert!(
        door_prune["calls"][0]["destructive"]
            .as_str()
            .is_some_and(|d| d.contains("all the video"))
    );
    assert!(
        entry(&report, "VideoStream/legacy")["calls"][0]["destructive"]
            .as_str()
            .is_some_and(|d| d.contains("releases"))
    );
    assert_eq!(
        entry(&report, "VideoStream/taken")["reason"],
        "DeletionProtected"
    );
    assert_eq!(
        entry(&report, "VideoStream/outside")["calls"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // A manifest that is wrong is an error, never a prune of its live object.
    write(
        &dir,
        "lobby.yaml",
        &video_stream(
            "lobby",
            &format!("  streamName: {lobby}\n  dataRetentionInHours: -1\n"),
        ),
    );
    let (code, broken) = plan_json(&h, &dir, &["--prune", "-l", PART_OF]).await;
    assert_eq!(code, 1, "{broken:#}");
    let lobby_entries: Vec<&Value> = broken["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| o["name"] == "lobby")
        .collect();
    assert_eq!(lobby_entries.len(), 1, "{broken:#}");
    assert_eq!(lobby_entries[0]["verdict"], "error");
    assert_eq!(lobby_entries[0]["action"], "apply");
    // ... and the deletes do just that.
    let mark = h.log_mark();
    h.delete_ok("videostream", "door").await;
    h.delete_ok("videostream", "legacy").await;
    h.wait_gone("door").await;
    h.wait_gone("legacy").await;
    assert_eq!(recorded(&h, mark, &door), prune["VideoStream/door"]);
    assert_eq!(recorded(&h, mark, &legacy), prune["VideoStream/legacy"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_malformed_manifest_exits_1_naming_the_file_the_document_and_the_field() {
    let h = Harness::without_operator("plan-bad").await;
    let dir = manifests_dir(&h);
    write(
        &dir,
        "cams.yaml",
        &format!(
            "{}---\n{}",
            video_stream("good", "  dataRetentionInHours: 24\n"),
            video_stream(
                "bad",
                "  dataRetentionInHours: 87601\n  deletionPolicy: Drop\n"
            )
        ),
    );
    write(&dir, "typo.yaml", &video_stream("typo", "  retention: 2\n"));
    let file = dir.join("cams.yaml").display().to_string();
    let mark = h.log_mark();
    let out = plan(&h, &["-f", &file, "-n", &h.namespace]).await;
    assert_eq!(out.status.code(), Some(1), "{}{}", out.stdout, out.stderr);
    let expected = [
        format!("{file} (document 2): The VideoStream \"bad\" is invalid: \n"),
        "* spec.dataRetentionInHours: Invalid value: 87601: spec.dataRetentionInHours in body should be less than or equal to 87600\n".into(),
        "* spec.deletionPolicy: Unsupported value: \"Drop\": supported values: \"Delete\", \"Retain\"\n".into(),
    ];
    for line in &expected {
        assert!(
            out.stdout.contains(line.as_str()),
            "{line}\nin\n{}",
            out.stdout
        );
    }
    // The API server says the same of it, field by field.
    let applied = h
        .kubectl(&["apply", "--dry-run=server", "-n", &h.namespace, "-f", &file])
        .await;
    assert!(!applied.success());
    for line in &expected[1..] {
        assert!(
            applied.stderr.contains(line.trim_end()),
            "{line}\nin\n{}",
            applied.stderr
        );
    }
    // An unknown field: refused before anything else, as kubectl's strict validation does.
    let typo = dir.join("typo.yaml").display().to_string();
    let out_typo = plan(&h, &["-f", &typo, "-n", &h.namespace]).await;
    assert_eq!(
        out_typo.status.code(),
        Some(1),
        "{}{}",
        out_typo.stdout,
        out_typo.stderr
    );
    let unknown = "VideoStream in version \"v1alpha1\" cannot be handled as a VideoStream: strict decoding error: unknown field \"spec.retention\"";
    assert!(
        out_typo
            .stdout
            .contains(&format!("{typo} (document 1): {unknown}")),
        "{}",
        out_typo.stdout
    );
    let applied = h
        .kubectl(&["apply", "--dry-run=server", "-n", &h.namespace, "-f", &typo])
        .await;
    assert!(applied.stderr.contains(unknown), "{}", applied.stderr);
    // The good document was planned: a create.
    assert!(out.stdout.contains("CreateStream"), "{}", out.stdout);
    assert!(h.mutations_since(mark).is_empty());

    // Not YAML at all: exit 1, naming the file and the document.
    write(
        &dir,
        "broken.yaml",
        "apiVersion: v1\n---\nkind: [unclosed\n",
    );
    let broken = dir.join("broken.yaml").display().to_string();
    let out = plan(&h, &["-f", &broken]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains(&format!("{broken} (document 2)")),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn kubectl_runs_it_as_the_kvs_plugin() {
    let h = Harness::start("plugin").await;
    let ns = h.namespace.clone();
    h.apply_ok(&video_stream(
        "front-door",
        &format!("  streamName: {ns}-door\n"),
    ))
    .await;
    h.apply_ok(&video_stream(
        "lobby",
        &format!("  streamName: {ns}-lobby\n"),
    ))
    .await;
    h.wait_ready("front-door").await;
    h.wait_ready("lobby").await;
    // Installed as the docs say: the same binary, under kubectl's plugin name, on PATH.
    let plugins = h.plane.dir().join(format!("plugins-{ns}"));
    std::fs::create_dir_all(&plugins).expect("dir");
    let link = plugins.join("kubectl-kvs");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(operator(), &link).expect("symlink");
    let kubectl = h.plane.bin_dir().join("kubectl");

    let listed = run(&h, &kubectl, &["plugin", "list"], Some(&plugins)).await;
    assert!(
        listed.stdout.contains(&link.display().to_string()),
        "{}{}",
        listed.stdout,
        listed.stderr
    );

    let status = run(&h, &kubectl, &["kvs", "status", "-n", &ns], Some(&plugins)).await;
    assert!(status.success(), "{}{}", status.stdout, status.stderr);
    assert!(status.stdout.starts_with("NAMESPACE"), "{}", status.stdout);
    let line = status
        .stdout
        .lines()
        .find(|l| l.starts_with(&ns))
        .unwrap_or_else(|| panic!("{}", status.stdout));
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        columns,
        [ns.as_str(), "VideoStream", "True", "Available", "2"]
    );
    assert!(
        status.stdout.ends_with("2 objects: 2 ready, 0 not\n"),
        "{}",
        status.stdout
    );

    let dir = manifests_dir(&h);
    write(
        &dir,
        "front-door.yaml",
        &video_stream(
            "front-door",
            &format!("  streamName: {ns}-door\n  dataRetentionInHours: 12\n"),
        ),
    );
    let dir_arg = dir.display().to_string();
    let mark = h.log_mark();
    let planned = run(
        &h,
        &kubectl,
        &["kvs", "plan", "-f", &dir_arg, "-n", &ns, "-o", "json"],
        Some(&plugins),
    )
    .await;
    assert_eq!(
        planned.status.code(),
        Some(2),
        "{}{}",
        planned.stdout,
        planned.stderr
    );
    let report: Value = serde_json::from_str(&planned.stdout).expect("JSON");
    assert_eq!(
        report["objects"][0]["calls"][0]["operation"],
        "UpdateDataRetention"
    );
    assert!(h.mutations_since(mark).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&plugins);
}

#[tokio::test]
async fn offline_it_reads_nothing_from_the_cluster_and_needs_the_cluster_id() {
    let h = Harness::without_operator("plan-offline").await;
    let dir = manifests_dir(&h);
    write(
        &dir,
        "cam.yaml",
        &video_stream(
            "cam",
            "  streamName: offline-cam\n  dataRetentionInHours: 24\n",
        ),
    );
    let file = dir.join("cam.yaml").display().to_string();
    let nowhere = h.plane.dir().join("no-such-kubeconfig");
    let offline = |args: Vec<String>| {
        let mut command = h.plane.command(operator());
        command
            .arg("plan")
            .args(args)
            .env("KUBECONFIG", &nowhere)
            .env("AWS_ENDPOINT_URL", h.emulator.url())
            .env("AWS_REGION", h.emulator.region())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        async move { kvs_testenv::run(command, None).await.expect("runs") }
    };
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    // No cluster and no --offline: an error that says how to plan without one.
    let out = offline(s(&["-f", &file])).await;
    assert_eq!(out.status.code(), Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("--offline"), "{}", out.stderr);
    // --offline needs the cluster id: ownership is judged by it.
    let out = offline(s(&["-f", &file, "--offline"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("--cluster-id"), "{}", out.stderr);
    // With it: planned from AWS alone, in the default namespace.
    let out = offline(s(&[
        "-f",
        &file,
        "--offline",
        "--cluster-id=prod-eu",
        "-o",
        "json",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let cam = entry(&report, "VideoStream/cam");
    assert_eq!(cam["namespace"], "default");
    assert_eq!(cam["calls"][0]["operation"], "CreateStream");
    let owner = cam["calls"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == format!("tags.{CLUSTER_TAG}"))
        .expect("the cluster tag");
    assert_eq!(owner["to"], "prod-eu");
    let _ = std::fs::remove_dir_all(&dir);
}
