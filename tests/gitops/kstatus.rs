//! kstatus, the status library of Flux and kpt (`sigs.k8s.io/cli-utils/pkg/kstatus`), on
//! live objects: `hack/kstatus` built once per test binary, fed `kubectl get -o json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kvs_operator::api::VideoStream;
use kvs_operator::engine::conditions::{READY, STALLED, find};
use tokio::sync::OnceCell;

use crate::support::Harness;

/// What kstatus computes for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kstatus {
    /// InProgress, Current, Failed, Terminating or Unknown.
    pub status: String,
    pub message: String,
}

async fn binary() -> &'static Path {
    static BUILT: OnceCell<PathBuf> = OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kstatus");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/kstatus");
            let built = tokio::process::Command::new("go")
                .args(["build", "-o"])
                .arg(&out)
                .arg(".")
                .current_dir(&source)
                // The module's go.mod and go.sum are the pins; the machine's Go builds it.
                .env("GOTOOLCHAIN", "local")
                .env("GOFLAGS", "-mod=readonly")
                .output()
                .await
                .expect("go runs");
            assert!(
                built.status.success(),
                "go build hack/kstatus failed: {}",
                String::from_utf8_lossy(&built.stderr)
            );
            out
        })
        .await
}

/// kstatus of VideoStream `name` in the harness's namespace as it is now, with the object it
/// was computed from.
pub async fn of(h: &Harness, name: &str) -> (Kstatus, VideoStream) {
    let object = h
        .kubectl(&["get", "videostream", name, "-n", &h.namespace, "-o", "json"])
        .await;
    assert!(object.success(), "kubectl get {name}: {}", object.stderr);
    let vs: VideoStream = serde_json::from_str(&object.stdout).expect("a VideoStream");
    let out = tokio::process::Command::new(binary().await)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kstatus runs");
    let out = feed(out, object.stdout.into_bytes()).await;
    let line = out.lines().next().unwrap_or_default();
    let mut fields = line.splitn(3, '\t');
    let _object = fields.next();
    let kstatus = Kstatus {
        status: fields.next().unwrap_or_default().to_string(),
        message: fields.next().unwrap_or_default().to_string(),
    };
    (kstatus, vs)
}

/// What kstatus must say of `vs`, from the conditions the operator wrote: Failed while
/// Stalled, Current once Ready for the current generation, InProgress otherwise. `None`
/// before the operator wrote any status: kstatus then cannot know the object has
/// conditions at all and says Current (its documented corner case).
pub fn expected(vs: &VideoStream) -> Option<&'static str> {
    let status = vs.status.as_ref()?;
    if vs.metadata.deletion_timestamp.is_some() {
        return Some("Terminating");
    }
    let is_true = |type_| find(&status.conditions, type_).is_some_and(|c| c.status == "True");
    Some(if status.observed_generation != vs.metadata.generation {
        "InProgress"
    } else if is_true(STALLED) {
        "Failed"
    } else if is_true(READY) {
        "Current"
    } else {
        "InProgress"
    })
}

/// Samples kstatus of `name` (from when it exists) until it says `until`, checking on every
/// sample that it says what the conditions mean. Returns the statuses seen, in order,
/// without repeats.
pub async fn follow(h: &Harness, name: &str, until: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        if h.api().get_opt(name).await.ok().flatten().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let (kstatus, vs) = of(h, name).await;
        let expected = expected(&vs);
        let label = match expected {
            Some(expected) => {
                assert_eq!(
                    kstatus.status, expected,
                    "kstatus disagrees with the conditions of {name}: {kstatus:?}\n{:#?}",
                    vs.status
                );
                kstatus.status.clone()
            }
            None => format!("{} before any status", kstatus.status),
        };
        if seen.last() != Some(&label) {
            seen.push(label);
        }
        if expected.is_some() && kstatus.status == until {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kstatus never said {until} of {name}; it said {seen:?}");
}

async fn feed(mut child: tokio::process::Child, input: Vec<u8>) -> String {
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&input).await.expect("write to kstatus");
    drop(stdin);
    let out = child.wait_with_output().await.expect("kstatus finishes");
    assert!(
        out.status.success(),
        "kstatus failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
