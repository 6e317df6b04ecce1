//! Everything this binary's tests need beside cargo, checked once before the first of them
//! starts: if anything is missing, the binary stops with one line naming hack/prepare.sh.

use kvs_testenv::prerequisites::{Need, require_or_exit};

/// The control plane the shared e2e harness starts, and Argo CD.
pub fn require_all() {
    require_or_exit(&[Need::ControlPlane, Need::ArgoCd]);
}
