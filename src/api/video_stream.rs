//! The `VideoStream` custom resource: one Kinesis Video stream.
//!
//! Every constraint KVS puts on an input is expressed in the generated CRD schema (OpenAPI
//! patterns, lengths, ranges and CEL rules), so the API server refuses a bad manifest at
//! `kubectl apply` time instead of the operator discovering it at AWS.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ExportTo, ManagementPolicy, TagPolicy};

/// Desired state of one Kinesis Video stream.
///
/// Optional fields that are absent are not managed: the stream keeps whatever value it has
/// (for a new stream, the KVS default). This makes adopting an existing stream safe: nothing
/// is changed that the manifest does not name.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "kvs-operator.dev",
    version = "v1alpha1",
    kind = "VideoStream",
    plural = "videostreams",
    shortname = "vs",
    namespaced,
    doc = "A Kinesis Video Streams stream, managed by kvs-operator.",
    status = "VideoStreamStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(name = "Stream", type_ = "string", json_path = ".status.streamName"),
    printcolumn(name = "AWS-Status", type_ = "string", json_path = ".status.awsStatus"),
    printcolumn(name = "Retention", type_ = "integer", json_path = ".status.dataRetentionInHours"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "ARN", type_ = "string", json_path = ".status.streamARN", priority = 1),
    validation = Rule::new("size(self.metadata.name) <= 192")
        .message("metadata.name must be at most 192 characters so that the owner tag <namespace>/<name> fits in 256"),
    validation = Rule::new("(has(self.spec.streamName) ? self.spec.streamName : self.metadata.name) == (has(oldSelf.spec.streamName) ? oldSelf.spec.streamName : oldSelf.metadata.name)")
        .message("spec.streamName is immutable: Kinesis Video Streams cannot rename a stream")
        .field_path(".spec.streamName"),
)]
#[x_kube(
    validation = Rule::new("has(self.kmsKeyId) == has(oldSelf.kmsKeyId) && (!has(self.kmsKeyId) || self.kmsKeyId == oldSelf.kmsKeyId)")
        .message("spec.kmsKeyId is immutable: Kinesis Video Streams cannot change a stream's encryption key")
        .field_path(".kmsKeyId"),
)]
#[serde(rename_all = "camelCase")]
pub struct VideoStreamSpec {
    /// Name of the KVS stream. Defaults to `metadata.name`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[a-zA-Z0-9_.-]+$"))]
    pub stream_name: Option<String>,

    /// Name of the device that writes to the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-zA-Z0-9_.-]+$"))]
    pub device_name: Option<String>,

    /// Media type of the stream, e.g. `video/h264`; several as `video/h264,audio/aac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[\w\-\.\+]+/[\w\-\.\+]+(,[\w\-\.\+]+/[\w\-\.\+]+)*$")
    )]
    pub media_type: Option<String>,

    /// KMS key (id, alias or ARN) that encrypts the stream's data. Absent: the AWS-managed
    /// key `alias/aws/kinesisvideo`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub kms_key_id: Option<String>,

    /// Hours the stream keeps its data; 0 keeps none. A decrease deletes older data at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 87600))]
    pub data_retention_in_hours: Option<i32>,

    /// Tags on the stream, exactly as listed (tags under `aws:` and the operator's own tag
    /// are kept). Absent: tags are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::tags_schema")]
    pub tags: Option<super::StringMap>,

    /// `Shared` (the default): only tag keys the operator applied from `tags` and that
    /// have left it are removed; keys others write are left alone. `Exclusive`: every key
    /// not in `tags` is removed (but `aws:` and the operator's own).
    #[serde(default, skip_serializing_if = "TagPolicy::is_shared")]
    pub tag_policy: TagPolicy,

    /// Default storage tier of new fragments (HOT or WARM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_tier: Option<StorageTier>,

    /// What happens to the stream when this resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Take over an existing stream of this name that no VideoStream owns yet. Without it,
    /// an existing stream is left untouched and reported as `NotOwned`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt_existing: bool,

    /// `Full` (the default) manages the stream; `ObserveOnly` only reports it and never
    /// changes, creates or deletes anything (no owner tag needed).
    #[serde(default, skip_serializing_if = "ManagementPolicy::is_full")]
    pub management_policy: ManagementPolicy,

    // Boxed, as `notification` and `status.placement`: the watch cache holds every
    // object, and these take their room only when set. A VideoStream is then 848 bytes
    // instead of 1,032, one allocator size class of 896 bytes instead of 1,280.
    /// Thumbnails of the stream delivered to S3. Absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_generation: Option<Box<ImageGeneration>>,

    /// Notifications on fragment upload to an SNS topic. Absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Box<Notification>>,

    /// Write the stream's coordinates (STREAM_NAME, STREAM_ARN, AWS_REGION,
    /// PUT_MEDIA_ENDPOINT, GET_MEDIA_ENDPOINT) into a ConfigMap of this namespace, for
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

impl super::Marked for VideoStream {
    fn cached_marks(&self) -> Option<&super::CachedMarks> {
        self.spec._cached_marks.as_ref()
    }

    fn set_cached_marks(&mut self, marks: super::CachedMarks) {
        self.spec._cached_marks = Some(marks);
    }
}

/// Image generation (UpdateImageGenerationConfiguration): every range and pattern is the
/// AWS model's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.destinationUri.startsWith('s3://')")
        .message("imageGeneration.destinationUri must be an S3 URI (s3://bucket/prefix)")
        .field_path(".destinationUri"),
    validation = Rule::new("!has(self.formatConfig) || self.formatConfig.all(k, k == 'JPEGQuality')")
        .message("imageGeneration.formatConfig takes one key: JPEGQuality")
        .field_path(".formatConfig"),
)]
pub struct ImageGeneration {
    pub status: ConfigurationStatus,
    /// Where the images go, `s3://bucket/prefix`.
    #[schemars(
        length(min = 1, max = 255),
        regex(pattern = r"^[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)$")
    )]
    pub destination_uri: String,
    /// The S3 bucket's region, e.g. `us-east-1`.
    #[schemars(
        length(min = 9, max = 14),
        regex(pattern = r"^[a-z]+(-[a-z]+)?-[a-z]+-[0-9]$")
    )]
    pub destination_region: String,
    /// Which timestamps select the frames.
    pub image_selector_type: ImageSelectorType,
    /// Milliseconds between images.
    #[schemars(range(min = 200, max = 20000))]
    pub sampling_interval: i32,
    pub format: ImageFormat,
    /// `JPEGQuality` (1 to 100) for JPEG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "format_config_schema")]
    pub format_config: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3840))]
    pub width_pixels: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2160))]
    pub height_pixels: Option<i32>,
}

/// Notifications on fragment upload (UpdateNotificationConfiguration).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub status: ConfigurationStatus,
    /// The SNS topic ARN notifications go to.
    #[schemars(
        length(min = 1, max = 255),
        regex(pattern = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[a-zA-Z0-9_-]{1,256}$")
    )]
    pub destination_uri: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConfigurationStatus {
    Enabled,
    Disabled,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImageSelectorType {
    ServerTimestamp,
    ProducerTimestamp,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ConfigurationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigurationStatus::Enabled => "ENABLED",
            ConfigurationStatus::Disabled => "DISABLED",
        }
    }
}

impl ImageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
        }
    }
}

fn format_config_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": {
            "type": "string",
            "maxLength": 256,
            "pattern": "^[a-zA-Z_0-9]+"
        }
    })
}

/// What deleting the VideoStream does to the stream.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the stream and its data.
    #[default]
    Delete,
    /// Keep the stream; only remove the operator's owner tag.
    Retain,
}

/// The KVS default storage tier for new fragments.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum StorageTier {
    Hot,
    Warm,
}

impl StorageTier {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageTier::Hot => "HOT",
            StorageTier::Warm => "WARM",
        }
    }
}

/// What the operator last saw of the stream, and how the last reconcile went.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VideoStreamStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "streamARN", default, skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// KVS version of the stream; it changes on every update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// CREATING, ACTIVE, UPDATING or DELETING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_retention_in_hours: Option<i32>,
    /// The KMS key as KVS reports it (an ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_tier: Option<StorageTier>,
    /// Endpoints for the data-plane APIs (PUT_MEDIA, GET_MEDIA, ...), from GetDataEndpoint.
    #[serde(default, skip_serializing_if = "super::StringMap::is_empty")]
    pub data_endpoints: super::StringMap,
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
    /// When the operator last compared the stream with the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// Where the resource this object made or took lives, and whose identity manages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Box<super::PlacementStatus>>,
    /// `Ready` (the stream is ACTIVE and matches the spec) and `Synced` (the last
    /// reconcile succeeded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

impl VideoStream {
    /// The KVS stream name: `spec.streamName`, else `metadata.name`.
    pub fn stream_name(&self) -> String {
        self.spec
            .stream_name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }

    /// The owner tag value that marks a stream as this resource's: `<namespace>/<name>`.
    pub fn owner_id(&self) -> String {
        let namespace = kube::ResourceExt::namespace(self).unwrap_or_default();
        format!("{namespace}/{}", kube::ResourceExt::name_any(self))
    }
}
