//! The custom resources of `kvs-operator.dev/v1alpha1`.
//!
//! Every constraint KVS puts on an input is expressed in the generated CRD schemas (OpenAPI
//! patterns, lengths, ranges and CEL rules), so the API server refuses a bad manifest at
//! `kubectl apply` time instead of the operator discovering it at AWS.

mod account_binding;
mod video_stream;

pub use account_binding::{AccountBinding, AccountBindingSpec, AccountBindingStatus, Adoption};
pub use video_stream::{
    DeletionPolicy, StorageTier, VideoStream, VideoStreamSpec, VideoStreamStatus,
};

/// API group of every kind this operator serves.
pub const GROUP: &str = "kvs-operator.dev";

/// Tag that marks a stream as managed by one VideoStream; its value is `<namespace>/<name>`.
pub const OWNER_TAG: &str = "kvs-operator.dev/owner";

/// Tag that names the cluster whose VideoStream owns the stream (`--cluster-id`). A stream
/// is ours only when both this and [`OWNER_TAG`] match, so two clusters sharing an account
/// never take each other's streams for their own.
pub const CLUSTER_TAG: &str = "kvs-operator.dev/cluster";

/// Tag keys under these prefixes are reserved: AWS owns `aws:`, the operator owns its own.
pub const RESERVED_TAG_PREFIXES: [&str; 2] = ["aws:", "kvs-operator.dev/"];

/// AWS allows 50 tags per stream; the operator's owner and cluster tags take two of them.
pub const MAX_USER_TAGS: usize = 48;

/// Longest `metadata.name` allowed, so `<namespace>/<name>` fits the 256-character tag value.
pub const MAX_RESOURCE_NAME: usize = 192;

/// Every CRD this operator serves, as `(file name in crds/, YAML document)`. Each document
/// starts with `---`, so the files concatenated in name order are what `kvs-operator crd`
/// prints.
pub fn crds() -> crate::Result<Vec<(String, String)>> {
    use kube::CustomResourceExt;
    let crds = [AccountBinding::crd(), VideoStream::crd()];
    crds.iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let yaml = serde_yaml_ng::to_string(crd)
                .map_err(|e| crate::Error::Config(format!("cannot render the CRD {name}: {e}")))?;
            Ok((format!("{name}.yaml"), format!("---\n{yaml}")))
        })
        .collect()
}

/// Every CRD as one YAML stream, exactly as `kvs-operator crd` prints it.
pub fn crd_yaml() -> crate::Result<String> {
    Ok(crds()?.into_iter().map(|(_, yaml)| yaml).collect())
}
