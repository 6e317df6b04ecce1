//! The `AccountBinding` custom resource: which namespaces may manage which stream names,
//! in which AWS account and region, through which IAM role. Cluster-scoped and written by
//! cluster admins only; tenants get VideoStreams, never AccountBindings.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Maps namespaces to stream-name prefixes, an adoption rule and an AWS identity.
///
/// A VideoStream in a namespace that exactly one binding selects may only name streams that
/// begin with one of `streamNamePrefixes`, may adopt existing streams only when `adoption`
/// is `Allowed`, and reaches AWS with `roleARN` (assumed through STS with the operator's own
/// credentials) in `region`. Without `roleARN` the operator's own identity is used; without
/// `region`, the operator's own region.
// Several printer columns are strings: the repeated `type_` is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "kvs-operator.dev",
    version = "v1alpha1",
    kind = "AccountBinding",
    plural = "accountbindings",
    shortname = "ab",
    doc = "Namespaces bound to stream-name prefixes and an AWS account and region, by kvs-operator.",
    status = "AccountBindingStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn(name = "Account", type_ = "string", json_path = ".status.accountID"),
    printcolumn(name = "Region", type_ = "string", json_path = ".status.region"),
    printcolumn(
        name = "VideoStreams",
        type_ = "integer",
        json_path = ".status.videoStreams"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Role",
        type_ = "string",
        json_path = ".spec.roleARN",
        priority = 1
    )
)]
#[x_kube(
    validation = Rule::new("has(self.namespaces) || has(self.namespaceSelector)")
        .message("an AccountBinding must select namespaces: set spec.namespaces, spec.namespaceSelector or both"),
    validation = Rule::new("!has(self.externalID) || has(self.roleARN)")
        .message("spec.externalID is only used when assuming spec.roleARN")
        .field_path(".externalID"),
)]
#[serde(rename_all = "camelCase")]
pub struct AccountBindingSpec {
    /// Namespaces this binding serves, by name. A namespace is served when it is listed
    /// here or matches `namespaceSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "namespaces_schema")]
    pub namespaces: Option<Vec<String>>,

    /// Namespaces this binding serves, by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,

    /// The stream names the served namespaces may manage: each VideoStream's stream name
    /// must begin with one of these. At least one.
    #[schemars(schema_with = "prefixes_schema")]
    pub stream_name_prefixes: Vec<String>,

    /// Whether VideoStreams may adopt existing streams (`adoptExisting: true`).
    #[serde(default)]
    pub adoption: Adoption,

    /// IAM role assumed with the operator's own credentials for every call of the served
    /// namespaces. Absent: the operator's own identity.
    #[serde(rename = "roleARN", default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 20, max = 2048),
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
    )]
    pub role_arn: Option<String>,

    /// External id the role's trust policy requires, if any.
    #[serde(
        rename = "externalID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 2, max = 1224), regex(pattern = r"^[\w+=,.@:/-]+$"))]
    pub external_id: Option<String>,

    /// AWS region of the streams, e.g. `eu-west-1`. Absent: the operator's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 32),
        regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
    )]
    pub region: Option<String>,
}

/// May VideoStreams of the served namespaces take over streams that already exist?
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum Adoption {
    /// `adoptExisting: true` may claim an existing stream no one owns.
    Allowed,
    /// `adoptExisting: true` is refused (`AdoptionNotPermitted`) before any AWS call.
    #[default]
    Forbidden,
}

/// What the operator found when it used the binding's identity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountBindingStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The AWS account the identity acts in (from STS GetCallerIdentity).
    #[serde(rename = "accountID", default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The region the served streams live in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The caller ARN STS reports for the identity (an assumed-role ARN for a role).
    #[serde(rename = "callerARN", default, skip_serializing_if = "Option::is_none")]
    pub caller_arn: Option<String>,
    /// How many VideoStreams in the served namespaces there are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_streams: Option<i64>,
    /// `Ready`: the role was assumed and STS answered with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

impl AccountBinding {
    /// Whether the binding serves `namespace`, which carries `labels`.
    pub fn selects(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        let listed = self
            .spec
            .namespaces
            .as_ref()
            .is_some_and(|names| names.iter().any(|n| n == namespace));
        let labelled = self
            .spec
            .namespace_selector
            .as_ref()
            .is_some_and(|selector| crate::tenancy::selector_matches(selector, labels));
        listed || labelled
    }
}

fn namespaces_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "maxItems": 1000,
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
        }
    })
}

fn prefixes_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "maxItems": 100,
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "pattern": "^[a-zA-Z0-9_.-]+$"
        }
    })
}
