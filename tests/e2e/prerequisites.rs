//! Everything this binary's tests need beside cargo, checked once before the first of them
//! starts: if anything is missing, the binary stops with one line naming hack/prepare.sh.

use std::path::Path;

use kvs_testenv::prerequisites::{Need, require_or_exit};

/// The control plane, the chart tools, the node mode and the operator's image: the node
/// tests share this binary with the others, so it needs all of them.
pub fn require_all() {
    require_or_exit(&[
        Need::ControlPlane,
        Need::ChartTools,
        Need::Node,
        Need::OperatorImage(Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()),
    ]);
}
