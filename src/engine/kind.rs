//! What a kind of KVS resource brings to the engine: its types, its one reconcile step
//! (observe, plan, act — the planner pure, every mutation versioned), its cleanup step, how
//! a step reads in the status, and how its account lists it for the drift scan. The engine
//! does everything else, the same way for every kind.

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::runtime::events::Event;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::{Context, Registry};
use crate::api::{ManagementPolicy, Marked, PlacementStatus, TagPolicy};
use crate::kvs::{KinesisVideo, ResourceStatus};
use crate::tenancy::Placement;
use crate::{Error, Result};

/// What a kind's status must offer the engine besides its own fields.
pub trait KindStatus:
    Clone + PartialEq + Default + Serialize + Debug + Send + Sync + 'static
{
    fn conditions(&self) -> &[Condition];
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn observed_generation(&self) -> Option<i64>;
    fn last_sync_time(&self) -> Option<&Time>;
    fn set_last_sync_time(&mut self, time: Option<Time>);
    /// The ARN of the resource the object made or took, if any.
    fn arn(&self) -> Option<&str>;
    fn version(&self) -> Option<&str>;
    /// CREATING, ACTIVE, UPDATING or DELETING, as last seen.
    fn aws_status(&self) -> Option<&str>;
    /// The tag keys applied from the spec before (`managedTagKeys`).
    fn managed_tag_keys(&self) -> &[String];
    /// The reconcile request last handled (`lastHandledReconcileAt`).
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>);
    /// Where the resource it made or took was placed.
    fn placement(&self) -> Option<&PlacementStatus>;
    fn set_placement(&mut self, placement: Option<PlacementStatus>);
    /// The ConfigMap the coordinates were last written into (`spec.exportTo`).
    fn exported_config_map(&self) -> Option<&str>;
    fn set_exported_config_map(&mut self, name: Option<String>);
}

/// How a successful step reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// The resource is ACTIVE and matches the spec (or, ObserveOnly, exists).
    Ready {
        reason: &'static str,
        message: String,
    },
    /// KVS is creating, updating or deleting it, or a change was just made that moves its
    /// version or status: the account's listing shows when it is done.
    Progressing {
        reason: &'static str,
        message: String,
    },
    /// A change was just made that the listing does not show (tags, configurations): look
    /// again after one poll interval.
    Changed {
        reason: &'static str,
        message: String,
    },
    /// Nothing to wait for, and not ready either (ObserveOnly and nothing there).
    Absent {
        reason: &'static str,
        message: String,
    },
}

impl Readiness {
    /// Whether the object cannot get ready without someone acting.
    pub fn is_stalled(&self) -> bool {
        matches!(self, Readiness::Absent { .. })
    }

    /// The Ready condition it makes: status, reason and message.
    pub fn into_condition(self) -> (bool, &'static str, String) {
        match self {
            Readiness::Ready { reason, message } => (true, reason, message),
            Readiness::Progressing { reason, message }
            | Readiness::Changed { reason, message }
            | Readiness::Absent { reason, message } => (false, reason, message),
        }
    }
}

/// What a reconcile produced, in the terms a kind's status needs.
pub enum Outcome<'a, R> {
    Synced(&'a R),
    Failed(&'a Error),
    CleaningUp(&'a CleanupStep),
    Paused { deleting: bool },
}

/// What one cleanup step did.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanupStep {
    /// Nothing (left) at AWS for this object: the finalizer may go.
    Done,
    /// Waiting for the resource to settle or disappear.
    Waiting(ResourceStatus),
    /// The delete call was made.
    Deleted { arn: String },
    /// Our ownership tags were removed; the resource stays.
    Released { arn: String },
}

impl CleanupStep {
    /// How the step reads in the Ready condition.
    pub fn message(&self, noun: &str) -> String {
        match self {
            CleanupStep::Done => "nothing left to clean up".to_string(),
            CleanupStep::Waiting(s) => format!("waiting while the {noun} is {}", s.as_str()),
            CleanupStep::Deleted { arn } => format!("deleting {noun} {arn}"),
            CleanupStep::Released { arn } => format!("released {noun} {arn}; it is kept"),
        }
    }
}

/// A resource as its account's listing shows it: enough to tell whether it moved on.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub name: String,
    pub arn: String,
    pub version: String,
    pub status: ResourceStatus,
}

/// What a kind's step may ask of the engine.
pub struct Env<'a> {
    pub ctx: &'a Context,
    /// The cluster tag value (`--cluster-id`).
    pub cluster: &'a str,
    /// Where the object acts, and which steps (create, adopt) its tenancy refuses.
    pub placement: &'a Placement,
    /// Read everything fresh from KVS, tags included: a reconcile was requested
    /// (`kvs-operator.dev/reconcile-requested-at`).
    pub fresh: bool,
}

/// A kind of KVS resource the engine manages.
#[async_trait]
pub trait Kind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Marked
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    type Status: KindStatus;
    /// What one successful reconcile step did and saw.
    type Report: Send + Sync;

    /// What the KVS resource is called in messages: "stream", "signaling channel".
    const NOUN: &'static str;

    /// The engine's state for this kind (its caches and reconcile queues).
    fn registry(ctx: &Context) -> &Registry<Self>;

    /// The KVS name of the resource (AccountBinding prefixes apply to it).
    fn aws_name(&self) -> String;
    fn adopt_existing(&self) -> bool;
    fn management_policy(&self) -> ManagementPolicy;
    fn status(&self) -> Option<&Self::Status>;
    /// The tags the spec manages, for the tag audit (`None`: tags not managed).
    fn desired_tags(&self) -> Option<&crate::api::StringMap>;
    /// Whose tags the spec may remove (`spec.tagPolicy`).
    fn tag_policy(&self) -> TagPolicy;
    /// Whether the periodic audit must be a full reconcile: the spec manages state that
    /// neither the listing nor the tags show.
    fn audit_is_full(&self) -> bool {
        false
    }
    /// `spec.exportTo.configMapName`: where workloads read the coordinates.
    fn export_to(&self) -> Option<&str>;
    /// The coordinates a workload needs (`STREAM_ARN`, ...), read from a status: `None`
    /// until every one of them is known.
    fn coordinates(status: &Self::Status) -> Option<BTreeMap<String, String>>;

    /// One step towards the spec (or, ObserveOnly, only the observation).
    async fn sync(&self, kvs: &dyn KinesisVideo, env: &Env<'_>) -> Result<Self::Report>;
    /// One cleanup step (never called for ObserveOnly: nothing is ever deleted).
    async fn cleanup(&self, kvs: &dyn KinesisVideo, env: &Env<'_>) -> Result<CleanupStep>;
    /// How a step reads.
    fn readiness(report: &Self::Report) -> Readiness;
    /// The Event of the mutation a step made, if any.
    fn mutation_event(report: &Self::Report) -> Option<Event>;
    /// The ARN of the resource a step saw or made (`None` when there is none).
    fn resource_arn(report: &Self::Report) -> Option<&str>;
    /// The status after a reconcile of the current generation at `now`.
    fn next_status(&self, outcome: Outcome<'_, Self::Report>, now: Timestamp) -> Self::Status;

    /// Every resource of this kind in an account, for the drift scan: each is handed to
    /// `each` as its page is read, so no more than a page is held at a time.
    async fn list(kvs: &dyn KinesisVideo, each: &mut (dyn FnMut(Listed) + Send)) -> Result<()>;

    /// Called when the cache sees a new version of this object (its status included):
    /// wakes the objects of other kinds that wait for it.
    fn wake_dependents(&self, _ctx: &Context) {}
}
