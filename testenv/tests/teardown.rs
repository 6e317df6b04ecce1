//! Nothing outlives a test: not on drop, not on panic, not when the test binary
//! exits or is killed. Checked by pid.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvs_testenv::prerequisites::{Need, require_or_exit};
use kvs_testenv::{ControlPlane, Pids, process_is_running, shared};

/// Set in a child copy of this binary to make `child_helper` do its part.
const CHILD_MODE: &str = "KVS_TESTENV_TEARDOWN_CHILD";

fn assert_gone(pids: Pids, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while (process_is_running(pids.etcd) || process_is_running(pids.kube_apiserver))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !process_is_running(pids.etcd),
        "etcd {} survived",
        pids.etcd
    );
    assert!(
        !process_is_running(pids.kube_apiserver),
        "kube-apiserver {} survived",
        pids.kube_apiserver
    );
    assert!(!dir.exists(), "{} survived", dir.display());
}

#[tokio::test]
async fn drop_stops_both_servers_and_removes_the_directory() {
    require_or_exit(&[Need::ControlPlane]);
    let starting = Instant::now();
    let plane = ControlPlane::start().await.unwrap();
    eprintln!("start-up took {:?}", starting.elapsed());
    let (pids, dir) = (plane.pids(), plane.dir().to_path_buf());
    assert!(process_is_running(pids.etcd) && process_is_running(pids.kube_apiserver));
    assert!(plane.kubeconfig_path().exists());
    let stopping = Instant::now();
    drop(plane);
    eprintln!("tear-down took {:?}", stopping.elapsed());
    assert_gone(pids, &dir);
}

#[test]
fn a_panicking_test_still_tears_down() {
    require_or_exit(&[Need::ControlPlane]);
    let (tx, rx) = std::sync::mpsc::channel();
    let panicked = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let plane = ControlPlane::start().await.unwrap();
            tx.send((plane.pids(), plane.dir().to_path_buf())).unwrap();
            panic!("a failing test");
        })
    })
    .join();
    assert!(panicked.is_err());
    let (pids, dir) = rx.recv().unwrap();
    assert_gone(pids, &dir);
}

/// Runs `child_helper` alone in a fresh copy of this test binary.
fn spawn_child(mode: &str) -> (Child, Pids, PathBuf) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_helper", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest prints "test child_helper ... " on the same line first.
        if let Some((_, report)) = line.split_once("CHILD ") {
            let fields: Vec<&str> = report.split(' ').collect();
            let pids = Pids {
                etcd: fields[0].parse().unwrap(),
                kube_apiserver: fields[1].parse().unwrap(),
            };
            // Keep reading, or the child fails writing its test summary.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, pids, PathBuf::from(fields[2]));
        }
    }
    panic!("child exited without reporting: {:?}", child.wait());
}

/// Does nothing in a normal run; in a child, starts the shared plane and reports it.
#[tokio::test]
async fn child_helper() {
    require_or_exit(&[Need::ControlPlane]);
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let plane = shared().await.unwrap();
    let pids = plane.pids();
    println!(
        "CHILD {} {} {}",
        pids.etcd,
        pids.kube_apiserver,
        plane.dir().display()
    );
    if mode == "hang" {
        // Until the parent kills us; bounded in case it never does.
        std::thread::sleep(Duration::from_secs(120));
    }
}

#[test]
fn the_shared_plane_stops_when_the_test_binary_exits() {
    require_or_exit(&[Need::ControlPlane]);
    let (mut child, pids, dir) = spawn_child("exit");
    assert!(child.wait().unwrap().success());
    assert_gone(pids, &dir);
}

#[test]
fn the_shared_plane_dies_with_a_killed_test_binary() {
    require_or_exit(&[Need::ControlPlane]);
    let (mut child, pids, dir) = spawn_child("hang");
    child.kill().unwrap(); // SIGKILL: no destructor, no atexit
    child.wait().unwrap();

    // The kernel kills the servers; the files stay until a plane starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_is_running(pids.etcd) || process_is_running(pids.kube_apiserver) {
        assert!(
            Instant::now() < deadline,
            "servers outlived a killed test binary"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Parallel tests may sweep it first; either way a new start leaves none.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let plane = runtime.block_on(ControlPlane::start()).unwrap();
    assert!(!dir.exists(), "a new plane sweeps up after a dead one");
    drop(plane);
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
        })
        .filter(|pid| process_is_running(*pid))
        .collect()
}

#[tokio::test]
async fn a_failed_start_quotes_the_log_and_leaves_nothing_behind() {
    require_or_exit(&[Need::ControlPlane]);
    let err = ControlPlane::builder()
        .apiserver_arg("--no-such-flag")
        .start()
        .await
        .unwrap_err();
    let kvs_testenv::Error::Startup {
        process,
        reason,
        log,
        log_tail,
        ..
    } = &err
    else {
        panic!("expected a startup error, got {err:?}");
    };
    assert_eq!(*process, "kube-apiserver");
    assert!(reason.contains("exited"), "{reason}");
    assert!(log_tail.contains("unknown flag: --no-such-flag"), "{err}");
    assert!(err.to_string().contains("unknown flag"), "{err}");

    let dir = log.parent().unwrap();
    assert!(!dir.exists(), "{} survived", dir.display());
    let survivors = processes_mentioning(&dir.display().to_string());
    assert!(survivors.is_empty(), "etcd survived: {survivors:?}");
}
