//! GitOps end to end: a real Argo CD (built from the Go module proxy by `hack/argocd.sh
//! build`, its application-controller and repo-server running as local processes) syncs
//! VideoStreams from a git repository served on loopback by `git daemon` into the real API
//! server, where the built operator reconciles them against kvs-emulator. The health check
//! is installed through `argocd-cm` exactly as docs/argocd.md tells users, and kstatus
//! (`hack/kstatus`) reads the same live objects.

mod argocd;
mod channels;
#[path = "../common/mod.rs"]
mod common;
mod flow;
mod git;
mod kstatus;
mod prerequisites;
mod protection;
mod quiet;
mod sample;
// The e2e harness: shared control plane, an emulator and an operator per test.
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;
mod waves;
mod world;
