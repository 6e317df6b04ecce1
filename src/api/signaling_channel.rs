//! The `SignalingChannel` custom resource: one WebRTC signaling channel of Kinesis Video
//! Streams (live two-way video), optionally storing its media into a VideoStream's stream.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DeletionPolicy, ExportTo, ManagementPolicy, TagPolicy};

/// KVS's own default message TTL, in seconds.
pub const DEFAULT_MESSAGE_TTL_SECONDS: i32 = 60;

/// Desired state of one signaling channel (type SINGLE_MASTER, the only one KVS offers).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kvs-operator.dev",
    version = "v1alpha1",
    kind = "SignalingChannel",
    plural = "signalingchannels",
    // Not `sc`: kubectl resolves that to the built-in StorageClass first.
    shortname = "sigch",
    namespaced,
    doc = "A Kinesis Video Streams WebRTC signaling channel, managed by kvs-operator.",
    status = "SignalingChannelStatus",
    derive = "PartialEq",
    printcolumn(name = "Channel", type_ = "string", json_path = ".status.channelName"),
    printcolumn(name = "AWS-Status", type_ = "string", json_path = ".status.awsStatus"),
    printcolumn(name = "TTL", type_ = "integer", json_path = ".status.messageTtlSeconds"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "ARN", type_ = "string", json_path = ".status.channelARN", priority = 1),
    validation = Rule::new("size(self.metadata.name) <= 192")
        .message("metadata.name must be at most 192 characters so that the owner tag <namespace>/<name> fits in 256"),
    validation = Rule::new("(has(self.spec.channelName) ? self.spec.channelName : self.metadata.name) == (has(oldSelf.spec.channelName) ? oldSelf.spec.channelName : oldSelf.metadata.name)")
        .message("spec.channelName is immutable: Kinesis Video Streams cannot rename a signaling channel")
        .field_path(".spec.channelName"),
)]
#[serde(rename_all = "camelCase")]
pub struct SignalingChannelSpec {
    /// Name of the KVS signaling channel. Defaults to `metadata.name`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[a-zA-Z0-9_.-]+$"))]
    pub channel_name: Option<String>,

    /// How long a signaling message is kept for delivery, in seconds.
    #[serde(default = "default_message_ttl")]
    #[schemars(range(min = 5, max = 120))]
    pub message_ttl_seconds: i32,

    /// Tags on the channel, exactly as listed (tags under `aws:` and the operator's own
    /// tags are kept). Absent: tags are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::tags_schema")]
    pub tags: Option<super::StringMap>,

    /// `Shared` (the default): only tag keys the operator applied from `tags` and that
    /// have left it are removed; keys others write are left alone. `Exclusive`: every key
    /// not in `tags` is removed (but `aws:` and the operator's own).
    #[serde(default, skip_serializing_if = "TagPolicy::is_shared")]
    pub tag_policy: TagPolicy,

    /// What happens to the channel when this resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Take over an existing channel of this name that no SignalingChannel owns yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt_existing: bool,

    /// `Full` (the default) or `ObserveOnly`, as for VideoStream.
    #[serde(default, skip_serializing_if = "ManagementPolicy::is_full")]
    pub management_policy: ManagementPolicy,

    /// Store the channel's media into a VideoStream's stream (WebRTC ingestion). Absent:
    /// not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_storage: Option<MediaStorage>,

    /// Write the channel's coordinates (CHANNEL_NAME, CHANNEL_ARN, AWS_REGION and the
    /// MASTER_/VIEWER_ WSS and HTTPS endpoints) into a ConfigMap of this namespace, for
    /// pods to read with `envFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_to: Option<ExportTo>,

    /// Not part of the resource: the labels and annotations the engine reads, once the
    /// watch cache has moved them out of the metadata (see [`super::Marked`]). Never
    /// serialized.
    // The underscore: kube's schema derive copies this struct, and in the copy a field
    // serde skips is never read.
    #[serde(skip)]
    pub _cached_marks: Option<super::CachedMarks>,
}

impl super::Marked for SignalingChannel {
    fn cached_marks(&self) -> Option<&super::CachedMarks> {
        self.spec._cached_marks.as_ref()
    }

    fn set_cached_marks(&mut self, marks: super::CachedMarks) {
        self.spec._cached_marks = Some(marks);
    }
}

impl Default for SignalingChannelSpec {
    fn default() -> Self {
        Self {
            channel_name: None,
            message_ttl_seconds: DEFAULT_MESSAGE_TTL_SECONDS,
            tags: None,
            tag_policy: TagPolicy::default(),
            deletion_policy: DeletionPolicy::default(),
            adopt_existing: false,
            management_policy: ManagementPolicy::default(),
            media_storage: None,
            export_to: None,
            _cached_marks: None,
        }
    }
}

fn default_message_ttl() -> i32 {
    DEFAULT_MESSAGE_TTL_SECONDS
}

/// Which stream the channel's media goes to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaStorage {
    /// A VideoStream in the same namespace; its stream must keep data (retention > 0).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub video_stream_name: String,
}

/// What the operator last saw of the channel, and how the last reconcile went.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalingChannelStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    #[serde(
        rename = "channelARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_arn: Option<String>,
    /// KVS version of the channel; it changes on every update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// CREATING, ACTIVE, UPDATING or DELETING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_ttl_seconds: Option<i32>,
    /// Where peers connect, from GetSignalingChannelEndpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ChannelEndpoints>,
    /// The media storage configuration KVS reports, when the spec manages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_storage: Option<MediaStorageStatus>,
    /// The ConfigMap the coordinates were last written into (`spec.exportTo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_config_map: Option<String>,
    /// The tag keys the operator applied from the spec and may still remove (tagPolicy
    /// Shared removes no other key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_tag_keys: Vec<String>,
    /// The last value of the `kvs-operator.dev/reconcile-requested-at` annotation that a
    /// full reconcile handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// When the operator last changed this status (a reconcile that finds nothing new
    /// writes nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// Where the resource this object made or took lives, and whose identity manages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Box<super::PlacementStatus>>,
    /// `Ready`, `Synced`, and while applicable `Reconciling` and `Stalled` (kstatus).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The channel's endpoints, by role.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelEndpoints {
    pub master: RoleEndpoints,
    pub viewer: RoleEndpoints,
}

/// One role's endpoints, by protocol.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleEndpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<String>,
}

/// The channel's media storage, as KVS reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaStorageStatus {
    #[serde(rename = "streamARN", default, skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// ENABLED or DISABLED.
    pub status: String,
}

impl SignalingChannel {
    /// The KVS channel name: `spec.channelName`, else `metadata.name`.
    pub fn channel_name(&self) -> String {
        self.spec
            .channel_name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }

    /// The owner tag value that marks a channel as this resource's: `<namespace>/<name>`.
    pub fn owner_id(&self) -> String {
        let namespace = kube::ResourceExt::namespace(self).unwrap_or_default();
        format!("{namespace}/{}", kube::ResourceExt::name_any(self))
    }
}
