//! `kvs-operator plan` (also `kubectl kvs plan`): what applying VideoStream and
//! SignalingChannel manifests would make the operator do at AWS, before anyone applies them
//! — for the reviewer of a GitOps pull request.
//!
//! It runs the controller's own code, read-only: the manifests checked against the CRDs'
//! schema ([`schema`]), the tenancy decision through [`tenancy::placement`] (the function
//! the controller calls), the observation through the kinds' own `observe` over a
//! [`ReadOnly`] client (every mutation refused before it is sent), and the kinds' planners
//! and the cleanup planner asked step by step ([`steps`]). Nothing here decides what the
//! controller would not.
//!
//! - [`manifests`]: reading files, directories and standard input;
//! - [`cluster`]: what is read from the cluster (or assumed offline);
//! - [`render`]: the text and JSON reports, and the exit code.

pub mod cluster;
pub mod manifests;
pub mod render;
pub mod schema;
pub mod steps;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use kube::ResourceExt;
use serde::Serialize;
use serde_json::Value;

use self::cluster::ClusterView;
use self::manifests::Document;
use self::steps::{Call, End, Noun, Steps};
use crate::api::{
    GROUP, ManagementPolicy, SignalingChannel, SignalingChannelStatus, VideoStream,
    VideoStreamStatus, is_deletion_protected, is_paused,
};
use crate::channel::plan::StorageTarget as ChannelTarget;
use crate::channel::{plan as channel_plan, sync as channel_sync};
use crate::engine::kind::{Kind, KindStatus};
use crate::engine::lifecycle::CleanupPlan;
use crate::engine::ownership::Owner;
use crate::kvs::read_only::ReadOnly;
use crate::kvs::{KinesisVideo, TagRead};
use crate::stream::{plan as stream_plan, sync as stream_sync};
use crate::tenancy::accounts::Accounts;
use crate::tenancy::{self, Defaults, Placement};
use crate::{Error, Result};

/// What to plan, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace of manifests that name none (kubectl's `-n`, else the kubeconfig's).
    pub namespace: String,
    /// `--require-account-binding`, as the operator runs with it.
    pub require_account_binding: bool,
    /// `--unbound-adoption`, as the operator runs with it.
    pub unbound_adoption: crate::api::Adoption,
    /// Also plan the deletion of the live objects this label selector selects, in the
    /// manifests' namespaces, that the manifests no longer hold (what a prune deletes).
    pub prune: Option<String>,
}

/// What the plan of one object says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing to call.
    InSync,
    /// Calls to make.
    Changes,
    /// The operator would refuse (a condition reason says why): nothing is called.
    Refused,
    /// ObserveOnly: never called.
    ObserveOnly,
    /// The manifest, the cluster or AWS could not be read: no plan.
    Error,
}

/// The plan of one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `file (document N)`, or `cluster` for a prune.
    pub source: String,
    /// `apply` (the manifest), or `prune` (the live object, gone from the manifests).
    pub action: &'static str,
    /// The KVS resource: `stream front-door-cam`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub verdict: Verdict,
    pub calls: Vec<Call>,
    /// What the operator waits for between the calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<String>,
    /// The condition reason of a refusal, or `Paused`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Entry {
    fn new(kind: &str, namespace: &str, name: &str, source: String, action: &'static str) -> Self {
        Self {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
            action,
            resource: None,
            verdict: Verdict::InSync,
            calls: Vec::new(),
            waits: Vec::new(),
            reason: None,
            message: None,
        }
    }

    fn refused(mut self, reason: &str, message: impl Into<String>) -> Self {
        self.verdict = Verdict::Refused;
        self.reason = Some(reason.to_string());
        self.message = Some(message.into());
        self
    }

    fn error(mut self, message: impl Into<String>) -> Self {
        self.verdict = Verdict::Error;
        self.message = Some(message.into());
        self
    }

    /// Whether any of its calls cannot be undone, or it targets what is not ours.
    pub fn is_destructive(&self) -> bool {
        self.calls.iter().any(|c| c.destructive.is_some())
            || self.reason.as_deref() == Some("NotOwned")
    }

    fn with_steps(mut self, steps: Steps) -> Self {
        self.calls = steps.calls;
        self.waits = steps.waits;
        match steps.end {
            End::InSync => {}
            End::Observed { exists } => {
                self.verdict = Verdict::ObserveOnly;
                self.message = Some(
                    if exists {
                        "ObserveOnly: it exists; the operator only reports it"
                    } else {
                        "ObserveOnly: it does not exist, and the operator never creates it"
                    }
                    .to_string(),
                );
            }
            End::Blocked { reason, message } => return self.refused(reason, message),
            End::Waits(what) => self.message = Some(what),
        }
        // Calls to make, or something still to wait for: not in sync.
        if self.verdict == Verdict::InSync && (!self.calls.is_empty() || self.message.is_some()) {
            self.verdict = Verdict::Changes;
        }
        self
    }

    fn paused(mut self, paused: bool) -> Self {
        if paused && self.verdict != Verdict::Error {
            self.reason.get_or_insert_with(|| "Paused".to_string());
            let note = "paused (kvs-operator.dev/paused: \"true\"): nothing is called until the annotation is removed";
            self.message = Some(match self.message.take() {
                Some(m) => format!("{note}; then: {m}"),
                None => note.to_string(),
            });
        }
        self
    }
}

/// A plan: every object's entry, and the documents that were not ours.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub objects: Vec<Entry>,
    /// Sources of documents of other kinds, left out.
    pub ignored: Vec<String>,
}

impl Plan {
    /// `terraform plan -detailed-exitcode`'s: 1 when anything could not be planned, 2 when
    /// something would be called or refused, 0 when everything is in sync.
    pub fn exit_code(&self) -> u8 {
        let verdicts: Vec<&Verdict> = self.objects.iter().map(|o| &o.verdict).collect();
        if verdicts.contains(&&Verdict::Error) {
            1
        } else if verdicts
            .iter()
            .any(|v| matches!(v, Verdict::Changes | Verdict::Refused))
        {
            2
        } else {
            0
        }
    }
}

/// The kinds a plan is made for; other documents (an AccountBinding too) are listed as
/// ignored.
const PLANNED_KINDS: [&str; 2] = ["VideoStream", "SignalingChannel"];

/// Where a plan looks: the cluster as read, the AWS identities, the operator's rules.
pub struct World<'a> {
    pub cluster: &'a ClusterView,
    pub accounts: &'a Accounts,
    pub options: &'a Options,
}

/// A manifest of ours, parsed.
enum Object {
    Stream(Box<VideoStream>),
    Channel(Box<SignalingChannel>),
}

/// Plans `documents`: VideoStreams first (channels may store into them), then
/// SignalingChannels, then what a prune would delete.
pub async fn plan(documents: Vec<Document>, world: &World<'_>) -> Plan {
    let mut objects = Vec::new();
    let mut ignored = Vec::new();
    let mut parsed = Vec::new();
    // Every object the manifests hold, valid or not: a prune plans none of them.
    let mut kept: BTreeSet<(String, String, String)> = BTreeSet::new();
    for document in documents {
        let ours = document.api_version().split('/').next() == Some(GROUP)
            && PLANNED_KINDS.contains(&document.kind());
        if !ours {
            ignored.push(format!("{} ({})", document.source(), document.kind()));
            continue;
        }
        kept.insert((
            document.kind().to_string(),
            namespace_of(&document.value, &world.options.namespace),
            document.value["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
        match parse(&document, world).await {
            Ok(object) => parsed.push((document.source(), object)),
            Err(entry) => objects.push(*entry),
        }
    }
    // The streams' plans tell the channels where their media would go.
    let mut planned_streams: HashMap<(String, String), VideoStream> = HashMap::new();
    for (source, object) in &parsed {
        if let Object::Stream(vs) = object {
            let (entry, end_state) = plan_stream(vs, source.clone(), world).await;
            objects.push(entry);
            planned_streams.insert(
                (vs.namespace().unwrap_or_default(), vs.name_any()),
                end_state,
            );
        }
    }
    for (source, object) in &parsed {
        if let Object::Channel(channel) = object {
            objects.push(plan_channel(channel, source.clone(), &planned_streams, world).await);
        }
    }
    if let Some(selector) = &world.options.prune {
        let namespaces: BTreeSet<String> = kept.iter().map(|(_, ns, _)| ns.clone()).collect();
        objects.extend(plan_prune(&namespaces, selector, &kept, world).await);
    }
    Plan { objects, ignored }
}

/// The namespaces the documents' objects live in.
pub fn namespaces_of(documents: &[Document], default: &str) -> BTreeSet<String> {
    documents
        .iter()
        .map(|d| namespace_of(&d.value, default))
        .collect()
}

fn namespace_of(value: &Value, default: &str) -> String {
    value["metadata"]["namespace"]
        .as_str()
        .unwrap_or(default)
        .to_string()
}

/// Checks a document as the API server would (against the live object, if any, for
/// transition rules) and parses it.
async fn parse(document: &Document, world: &World<'_>) -> Result<Object, Box<Entry>> {
    let kind = document.kind().to_string();
    let namespace = namespace_of(&document.value, &world.options.namespace);
    let name = document.value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let entry = || Entry::new(&kind, &namespace, &name, document.source(), "apply");
    let fail =
        |message: String| Box::new(entry().error(format!("{}: {message}", document.source())));
    let Some(schema) = schema::schema_of(&kind) else {
        return Err(fail(format!(
            "no matches for kind \"{kind}\" in version \"{}\"",
            document.api_version()
        )));
    };
    let mut value = document.value.clone();
    value["metadata"]["namespace"] = Value::String(namespace.clone());
    let live = live_value(&kind, &namespace, &name, world)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if let Err(refusal) = schema::validate(&schema, &value, live.as_ref()) {
        let version = document
            .api_version()
            .rsplit('/')
            .next()
            .unwrap_or_default();
        return Err(fail(refusal.message(&kind, version, &name)));
    }
    let parsed = match kind.as_str() {
        "VideoStream" => serde_json::from_value(value).map(|vs| Object::Stream(Box::new(vs))),
        _ => serde_json::from_value(value).map(|c| Object::Channel(Box::new(c))),
    };
    parsed.map_err(|e| fail(format!("cannot be read as a {kind}: {e}")))
}

/// The live object as JSON (status left out), for transition rules.
async fn live_value(
    kind: &str,
    namespace: &str,
    name: &str,
    world: &World<'_>,
) -> Result<Option<Value>> {
    let live = match kind {
        "VideoStream" => world
            .cluster
            .live::<VideoStream>(namespace, name)
            .await?
            .map(serde_json::to_value),
        _ => world
            .cluster
            .live::<SignalingChannel>(namespace, name)
            .await?
            .map(serde_json::to_value),
    };
    live.transpose()
        .map_err(|e| Error::Config(format!("cannot read the live {kind}: {e}")))
}

/// The read-only client `object` would act with, and where (with the steps tenancy would
/// refuse there), or the refusal the controller would report (tenancy, or a resource
/// already living in another account). Placed as the controller places it: by the same
/// function, with the live object's status.
async fn client_for<K: Kind>(
    object: &K,
    live_status: Option<&K::Status>,
    world: &World<'_>,
) -> Result<(ReadOnly, Placement)> {
    let namespace = object.namespace().unwrap_or_default();
    let defaults = Defaults {
        require_binding: world.options.require_account_binding,
        unbound_adoption: world.options.unbound_adoption,
        region: world.accounts.default_region(),
    };
    let bindings: Vec<&crate::api::AccountBinding> = world.cluster.bindings.iter().collect();
    let placement = crate::engine::context::placement_of(
        object,
        live_status,
        None,
        &bindings,
        &world.cluster.labels(&namespace),
        &defaults,
    )
    .result?;
    let identity = world.accounts.identity(&placement.identity).await?;
    if let Some(arn) = live_status.and_then(KindStatus::arn)
        && let Some((account, region)) = tenancy::arn_scope(arn)
    {
        let key = &identity.account.key;
        if account != key.account_id || region != key.region {
            return Err(Error::AccountChanged(format!(
                "{} {arn} lives in account {account}, region {region}, but this namespace now acts in account {}, region {}",
                K::NOUN,
                key.account_id,
                key.region
            )));
        }
    }
    let kvs: Arc<dyn KinesisVideo> = identity.kvs.clone();
    Ok((ReadOnly::new(kvs), placement))
}

/// The tag keys a live object's status says the operator applied (none without one).
fn live_managed_tags<S: KindStatus>(status: Option<&S>) -> std::collections::BTreeSet<String> {
    status
        .map(|s| s.managed_tag_keys().iter().cloned().collect())
        .unwrap_or_default()
}

/// An error as an entry: a refusal the operator would report as a condition until a person
/// acts (a terminal error, by its reason; or media storage waiting for a VideoStream), or an
/// error of the plan itself (reading the cluster or AWS failed).
fn failed(entry: Entry, error: Error) -> Entry {
    let refusal = match &error {
        Error::Config(_) | Error::ReadOnly(_) => false,
        Error::MediaStorageNotReady(_) => true,
        other => other.class() == crate::ErrorClass::Terminal,
    };
    match refusal {
        true => entry.refused(error.reason(), error.to_string()),
        false => entry.error(error.to_string()),
    }
}

/// The plan of one VideoStream, and its status as the plan leaves it (for the channels
/// that store into it).
async fn plan_stream(vs: &VideoStream, source: String, world: &World<'_>) -> (Entry, VideoStream) {
    let namespace = vs.namespace().unwrap_or_default();
    let mut entry = Entry::new("VideoStream", &namespace, &vs.name_any(), source, "apply");
    entry.resource = Some(format!("stream {}", vs.stream_name()));
    let mut end_state = vs.clone();
    let live = world
        .cluster
        .live::<VideoStream>(&namespace, &vs.name_any())
        .await;
    let live_status = match live {
        Ok(live) => live.and_then(|l| l.status),
        Err(error) => return (entry.error(error.to_string()), end_state),
    };
    let (kvs, placement) = match client_for(vs, live_status.as_ref(), world).await {
        Ok(found) => found,
        Err(error) => return (failed(entry, error), end_state),
    };
    let mut desired = stream_plan::Desired::from_resource(vs, &world.cluster.cluster_id);
    // The keys the live object's status says the operator applied: a manifest has none.
    desired.managed_tag_keys = live_managed_tags(live_status.as_ref());
    desired.create_refusal = placement.create.clone();
    desired.adopt_refusal = placement.adopt.clone();
    let observed = match stream_sync::observe(&kvs, &desired, TagRead::Cached).await {
        Ok(observed) => observed,
        Err(error) => return (entry.error(error.to_string()), end_state),
    };
    let arn = observed.as_ref().map(|o| o.stream.arn.clone());
    let steps = steps::stream_steps(&desired, observed);
    if matches!(steps.end, End::InSync) {
        end_state.status = Some(VideoStreamStatus {
            stream_arn: Some(arn.unwrap_or_else(|| steps::NEW_ARN.to_string())),
            aws_status: Some("ACTIVE".into()),
            ..VideoStreamStatus::default()
        });
    }
    let entry = entry.with_steps(steps).paused(is_paused(vs));
    (entry, end_state)
}

async fn plan_channel(
    channel: &SignalingChannel,
    source: String,
    planned_streams: &HashMap<(String, String), VideoStream>,
    world: &World<'_>,
) -> Entry {
    let namespace = channel.namespace().unwrap_or_default();
    let mut entry = Entry::new(
        "SignalingChannel",
        &namespace,
        &channel.name_any(),
        source,
        "apply",
    );
    entry.resource = Some(format!("signaling channel {}", channel.channel_name()));
    let live_status: Option<SignalingChannelStatus> = match world
        .cluster
        .live::<SignalingChannel>(&namespace, &channel.name_any())
        .await
    {
        Ok(live) => live.and_then(|l| l.status),
        Err(error) => return entry.error(error.to_string()),
    };
    let (kvs, placement) = match client_for(channel, live_status.as_ref(), world).await {
        Ok(found) => found,
        Err(error) => return failed(entry, error),
    };
    // Where its media goes: the VideoStream as this plan leaves it, or as it lives.
    let target = match &channel.spec.media_storage {
        None => None,
        Some(storage) => {
            let key = (namespace.clone(), storage.video_stream_name.clone());
            let video_stream = match planned_streams.get(&key) {
                Some(planned) => Some(planned.clone()),
                None => match world.cluster.live::<VideoStream>(&namespace, &key.1).await {
                    Ok(live) => live,
                    Err(error) => return entry.error(error.to_string()),
                },
            };
            let target = channel_sync::storage_target(
                video_stream.as_ref(),
                &key.1,
                &world.cluster.cluster_id,
            );
            match target {
                // A stream that exists is read fresh, as the controller does before it
                // links: it must carry its VideoStream's ownership tags.
                Ok(ChannelTarget::Stream {
                    arn,
                    video_stream,
                    owner,
                }) => {
                    if let Err(error) =
                        channel_sync::confirm_target(&kvs, &arn, &video_stream, &owner).await
                    {
                        return failed(entry, error);
                    }
                    Some(ChannelTarget::Stream {
                        arn,
                        video_stream,
                        owner,
                    })
                }
                Ok(target) => Some(target),
                Err(error) => return failed(entry, error),
            }
        }
    };
    // A target the planned stream becomes once ACTIVE.
    let eventual_arn = channel.spec.media_storage.as_ref().and_then(|storage| {
        planned_streams
            .get(&(namespace.clone(), storage.video_stream_name.clone()))
            .and_then(|vs| vs.status.as_ref()?.stream_arn.clone())
    });
    let mut desired =
        channel_plan::Desired::from_resource(channel, &world.cluster.cluster_id, target);
    desired.managed_tag_keys = live_managed_tags(live_status.as_ref());
    desired.create_refusal = placement.create.clone();
    desired.adopt_refusal = placement.adopt.clone();
    let observed = match channel_sync::observe(&kvs, &desired, TagRead::Cached).await {
        Ok(observed) => observed,
        Err(error) => return entry.error(error.to_string()),
    };
    let steps = steps::channel_steps(&desired, observed, eventual_arn.as_deref());
    entry.with_steps(steps).paused(is_paused(channel))
}

/// What a prune of the selected live objects the manifests no longer hold would do.
async fn plan_prune(
    namespaces: &BTreeSet<String>,
    selector: &str,
    kept: &BTreeSet<(String, String, String)>,
    world: &World<'_>,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    for namespace in namespaces {
        match world
            .cluster
            .selected::<VideoStream>(namespace, selector)
            .await
        {
            Ok(streams) => {
                for vs in streams {
                    if !kept.contains(&("VideoStream".into(), namespace.clone(), vs.name_any())) {
                        entries.push(prune_stream(&vs, world).await);
                    }
                }
            }
            Err(error) => entries.push(
                Entry::new("VideoStream", namespace, "*", "cluster".into(), "prune")
                    .error(error.to_string()),
            ),
        }
        match world
            .cluster
            .selected::<SignalingChannel>(namespace, selector)
            .await
        {
            Ok(channels) => {
                for channel in channels {
                    if !kept.contains(&(
                        "SignalingChannel".into(),
                        namespace.clone(),
                        channel.name_any(),
                    )) {
                        entries.push(prune_channel(&channel, world).await);
                    }
                }
            }
            Err(error) => entries.push(
                Entry::new(
                    "SignalingChannel",
                    namespace,
                    "*",
                    "cluster".into(),
                    "prune",
                )
                .error(error.to_string()),
            ),
        }
    }
    entries
}

/// The cleanup the controller would run for `object` once it is deleted; `cleanup`
/// observes through the read-only client and asks the kind's cleanup planner.
async fn prune_one<K: Kind>(
    object: &K,
    noun: Noun,
    world: &World<'_>,
    cleanup: impl AsyncFnOnce(&ReadOnly) -> Result<(BTreeMap<String, String>, CleanupPlan)>,
) -> Entry {
    let namespace = object.namespace().unwrap_or_default();
    let mut entry = Entry::new(
        &K::kind(&()),
        &namespace,
        &object.name_any(),
        "cluster".into(),
        "prune",
    );
    entry.resource = Some(format!("{} {}", noun.as_str(), object.aws_name()));
    if is_deletion_protected(object.meta()) || world.cluster.namespace_protected(&namespace) {
        return entry.refused(
            "DeletionProtected",
            "the API server refuses the delete: kvs-operator.dev/deletion-protection is \"true\" on the object or its namespace",
        );
    }
    if object.management_policy() == ManagementPolicy::ObserveOnly {
        entry.verdict = Verdict::ObserveOnly;
        entry.message = Some("ObserveOnly: nothing is deleted".into());
        return entry;
    }
    let kvs = match client_for(object, object.status(), world).await {
        Ok((kvs, _)) => kvs,
        Err(error) => return failed(entry, error),
    };
    let (tags, plan) = match cleanup(&kvs).await {
        Ok(found) => found,
        Err(error) => return entry.error(error.to_string()),
    };
    let owner = Owner::of(object, &world.cluster.cluster_id);
    entry.calls = steps::cleanup_calls(&plan, noun, &object.aws_name(), &tags, &owner);
    if entry.calls.is_empty() {
        entry.message = Some(format!(
            "nothing of ours at AWS: the {} is gone or not ours",
            noun.as_str()
        ));
    } else {
        entry.verdict = Verdict::Changes;
    }
    entry.paused(is_paused(object))
}

async fn prune_stream(vs: &VideoStream, world: &World<'_>) -> Entry {
    let desired = stream_plan::Desired {
        storage_tier: None,
        image_generation: None,
        notification: None,
        ..stream_plan::Desired::from_resource(vs, &world.cluster.cluster_id)
    };
    prune_one(vs, Noun::Stream, world, async |kvs: &ReadOnly| {
        let observed = stream_sync::observe(kvs, &desired, TagRead::Fresh).await?;
        let plan = stream_plan::plan_cleanup(&desired, observed.as_ref());
        Ok((observed.map(|o| o.tags).unwrap_or_default(), plan))
    })
    .await
}

async fn prune_channel(channel: &SignalingChannel, world: &World<'_>) -> Entry {
    let desired = channel_plan::Desired::from_resource(channel, &world.cluster.cluster_id, None);
    prune_one(channel, Noun::Channel, world, async |kvs: &ReadOnly| {
        let observed = channel_sync::observe(kvs, &desired, TagRead::Fresh).await?;
        let plan = channel_plan::plan_cleanup(&desired, observed.as_ref());
        Ok((observed.map(|o| o.tags).unwrap_or_default(), plan))
    })
    .await
}
