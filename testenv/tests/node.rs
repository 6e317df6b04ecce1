//! The node mode: a pod really runs, the controllers really work, and stopping the cluster
//! leaves no process, mount, network namespace, link or cgroup behind.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::Api;
use kvs_testenv::prerequisites::{Need, require_or_exit};
use kvs_testenv::{NODE_NAME, NodeCluster, NodeTools};
use serde_json::Value;

/// Everything of this machine's that a node could leave behind.
#[derive(Debug, PartialEq, Eq)]
struct Leftovers {
    mounts: BTreeSet<String>,
    links: BTreeSet<String>,
    cgroups: BTreeSet<String>,
    processes: BTreeSet<String>,
}

fn leftovers(node_dir: &str, cgroup_root: &str) -> Leftovers {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mounts = mounts
        .lines()
        .filter(|l| l.contains(node_dir) || l.contains("overlay") || l.contains("/netns"))
        .map(str::to_string)
        .collect();
    let links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter(|name| name.starts_with("kvsn") && !name.contains('@'))
        .map(str::to_string)
        .collect();
    let cgroups = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|h| h.path().join(cgroup_root))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(node_dir))
        .collect();
    Leftovers {
        mounts,
        links,
        cgroups,
        processes,
    }
}

async fn kubectl(cluster: &NodeCluster, args: &[&str]) -> String {
    cluster
        .plane()
        .kubectl(args)
        .await
        .unwrap()
        .check()
        .unwrap()
        .stdout
}

#[tokio::test]
async fn a_pod_runs_on_the_node_and_stopping_leaves_nothing_behind() {
    require_or_exit(&[Need::ControlPlane, Need::Node]);
    let tools = NodeTools::find().expect("node tools");
    let cluster = NodeCluster::start().await.expect("node cluster starts");
    let node_dir = cluster.dir().display().to_string();
    let link = format!("kvsn{}", cluster.host_address().octets()[2]);
    let cgroup_root = format!("kvs-node-{}", cluster.host_address().octets()[2]);

    // The node is registered under its address, Ready, on containerd.
    let node: Value =
        serde_json::from_str(&kubectl(&cluster, &["get", "node", NODE_NAME, "-o", "json"]).await)
            .unwrap();
    assert_eq!(
        node["status"]["addresses"][0]["address"],
        cluster.node_address().to_string()
    );
    let runtime = node["status"]["nodeInfo"]["containerRuntimeVersion"]
        .as_str()
        .unwrap();
    assert!(runtime.starts_with("containerd://1.6"), "{runtime}");
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.36.3");

    // The scheduler places a pod, the kubelet runs it from an image imported here.
    kubectl(&cluster, &["create", "namespace", "work"]).await;
    kubectl(
        &cluster,
        &[
            "run",
            "sleeper",
            "-n",
            "work",
            &format!("--image={}", tools.pause_ref),
            "--image-pull-policy=Never",
            "--restart=Never",
        ],
    )
    .await;
    kubectl(
        &cluster,
        &[
            "wait",
            "-n",
            "work",
            "pod/sleeper",
            "--for=condition=Ready",
            "--timeout=120s",
        ],
    )
    .await;
    let client = cluster.plane().kube_client().await.unwrap();
    let pod = Api::<Pod>::namespaced(client.clone(), "work")
        .get("sleeper")
        .await
        .unwrap();
    let status = pod.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let pod_ip = status.pod_ip.unwrap();
    assert!(pod_ip.starts_with("10.251."), "{pod_ip}");
    assert!(!leftovers(&node_dir, &cgroup_root).processes.is_empty());

    // The namespace controller finishes a deletion: the pod is stopped and the namespace gone.
    kubectl(&cluster, &["delete", "namespace", "work", "--wait=false"]).await;
    let namespaces: Api<Namespace> = Api::all(client);
    let deadline = Instant::now() + Duration::from_secs(120);
    while namespaces.get_opt("work").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "namespace work never went away");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    drop(cluster);
    let left = leftovers(&node_dir, &cgroup_root);
    assert_eq!(
        left,
        Leftovers {
            mounts: BTreeSet::new(),
            links: BTreeSet::new(),
            cgroups: BTreeSet::new(),
            processes: BTreeSet::new(),
        },
        "after stopping, link {link} should be gone too"
    );
    assert!(!std::path::Path::new(&node_dir).exists());
}
