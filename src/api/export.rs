//! What both kinds share for living in a platform: `spec.exportTo` (their coordinates in a
//! ConfigMap, for workloads) and the deletion-protection annotation that the chart's
//! ValidatingAdmissionPolicy enforces.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The annotation that, set to `"true"` on a VideoStream, a SignalingChannel or their
/// Namespace, makes the API server refuse to delete them (the chart's
/// ValidatingAdmissionPolicy). Removing it is the deliberate step that allows the delete.
pub const DELETION_PROTECTION_ANNOTATION: &str = "kvs-operator.dev/deletion-protection";

/// Where an object's coordinates are written for workloads.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportTo {
    /// A ConfigMap in the object's own namespace. The operator creates it (owned by the
    /// object), keeps it current and deletes it with the object; one it does not own is
    /// never overwritten (reason `ExportConflict`).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub config_map_name: String,
}

/// Whether `metadata` asks for deletion protection.
pub fn is_deletion_protected(
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_PROTECTION_ANNOTATION))
        .is_some_and(|v| v == "true")
}
