//! `kvs-operator import`: VideoStream and SignalingChannel manifests that adopt existing
//! streams and channels, so a team can move resources made by hand (or by Terraform) under
//! GitOps without touching them.
//!
//! Each manifest names every field the resource has, exactly as KVS reports it, so adopting
//! it writes the owner and cluster tags and nothing else. With `observe_only` the manifests
//! are ObserveOnly instead: they adopt nothing and may watch resources others own.

use std::collections::{BTreeMap, HashMap, HashSet};

use kube::api::ObjectMeta;
use serde::Serialize;

use crate::api::{
    DEFAULT_MESSAGE_TTL_SECONDS, DeletionPolicy, MAX_RESOURCE_NAME, MAX_USER_TAGS,
    ManagementPolicy, MediaStorage, OWNER_TAG, SignalingChannel, SignalingChannelSpec, TagPolicy,
    VideoStream, VideoStreamSpec,
};
use crate::engine::ownership::is_reserved_tag;
use crate::kvs::{Channel, KinesisVideo, ResourceStatus, Stream, TagRead};
use crate::{Error, Result};

/// Which kinds of resources to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    All,
    VideoStream,
    SignalingChannel,
}

impl ImportKind {
    fn streams(self) -> bool {
        self != ImportKind::SignalingChannel
    }
    fn channels(self) -> bool {
        self != ImportKind::VideoStream
    }
}

/// What to import and how the manifests are written.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Only resources whose name begins with this.
    pub prefix: String,
    /// `metadata.namespace` of the manifests (none: the namespace kubectl applies to).
    pub namespace: Option<String>,
    /// Retain by default: deleting an imported manifest should not delete years of video.
    pub deletion_policy: DeletionPolicy,
    pub kind: ImportKind,
    /// Write ObserveOnly manifests: nothing is adopted, resources others own included.
    pub observe_only: bool,
}

/// One resource that was not turned into a manifest, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// "stream" or "signaling channel".
    pub noun: &'static str,
    pub name: String,
    pub reason: String,
}

/// The manifests of one import, in the order they are written.
#[derive(Debug, Default)]
pub struct Imported {
    pub video_streams: Vec<VideoStream>,
    pub channels: Vec<SignalingChannel>,
    pub skipped: Vec<Skipped>,
}

/// Lists the streams and channels under the prefix (all pages) with their tags and
/// configurations and renders the manifests as one multi-document YAML, skipped
/// resources listed as comments first.
pub async fn import(kvs: &dyn KinesisVideo, options: &ImportOptions) -> Result<String> {
    let mut imported = Imported::default();
    // The VideoStream each imported stream became, so channels storing into it name it.
    let mut video_stream_of: HashMap<String, String> = HashMap::new();
    if options.kind.streams() {
        let mut names = HashSet::new();
        for stream in kvs.list_streams(Some(&options.prefix)).await? {
            if stream.status == ResourceStatus::Deleting {
                imported.skipped.push(being_deleted("stream", &stream.name));
                continue;
            }
            let tags = kvs.list_tags(&stream.arn, TagRead::Fresh).await?;
            let configurations = Configurations {
                image_generation: kvs.describe_image_generation(&stream.arn).await?,
                notification: kvs.describe_notification(&stream.arn).await?,
            };
            match stream_manifest(&stream, &tags, &configurations, options, &mut names) {
                Ok(vs) => {
                    video_stream_of.insert(
                        stream.arn.clone(),
                        vs.metadata.name.clone().unwrap_or_default(),
                    );
                    imported.video_streams.push(vs);
                }
                Err(reason) => imported.skipped.push(Skipped {
                    noun: "stream",
                    name: stream.name.clone(),
                    reason,
                }),
            }
        }
    }
    if options.kind.channels() {
        let mut names = HashSet::new();
        let channels = kvs.list_channels().await?;
        for channel in channels
            .into_iter()
            .filter(|c| c.name.starts_with(&options.prefix))
        {
            if channel.status == ResourceStatus::Deleting {
                imported
                    .skipped
                    .push(being_deleted("signaling channel", &channel.name));
                continue;
            }
            let tags = kvs.list_tags(&channel.arn, TagRead::Fresh).await?;
            let stored_into = kvs
                .describe_media_storage(&channel.arn)
                .await?
                .filter(|config| config.enabled)
                .and_then(|config| config.stream_arn)
                .and_then(|arn| video_stream_of.get(&arn).cloned());
            match channel_manifest(&channel, &tags, stored_into, options, &mut names) {
                Ok(sc) => imported.channels.push(sc),
                Err(reason) => imported.skipped.push(Skipped {
                    noun: "signaling channel",
                    name: channel.name.clone(),
                    reason,
                }),
            }
        }
    }
    render(&imported)
}

fn being_deleted(noun: &'static str, name: &str) -> Skipped {
    Skipped {
        noun,
        name: name.to_string(),
        reason: "it is being deleted".into(),
    }
}

/// A stream's configurations, as KVS reports them (`None`: not configured).
#[derive(Debug, Clone, Default)]
pub struct Configurations {
    pub image_generation: Option<crate::api::ImageGeneration>,
    pub notification: Option<crate::api::Notification>,
}

/// The user tags to write into a manifest, or why adopting would not fit the tag limit.
fn user_tags(
    tags: &BTreeMap<String, String>,
    owner_kind: &str,
    options: &ImportOptions,
) -> std::result::Result<BTreeMap<String, String>, String> {
    if let Some(owner) = tags.get(OWNER_TAG)
        && !options.observe_only
    {
        return Err(format!("it is already managed by {owner_kind} {owner}"));
    }
    let user_tags: BTreeMap<String, String> = tags
        .iter()
        .filter(|(key, _)| !is_reserved_tag(key))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !options.observe_only && (tags.len() > MAX_USER_TAGS || user_tags.len() > MAX_USER_TAGS) {
        return Err(format!(
            "it has {} tags: adopting it needs two free tags (of 50) for the owner and cluster tags",
            tags.len()
        ));
    }
    Ok(user_tags)
}

/// The management fields of every manifest: adopt, or only observe.
fn management(options: &ImportOptions) -> (bool, ManagementPolicy, DeletionPolicy) {
    match options.observe_only {
        true => (false, ManagementPolicy::ObserveOnly, DeletionPolicy::Retain),
        false => (true, ManagementPolicy::Full, options.deletion_policy),
    }
}

fn metadata(name: String, options: &ImportOptions) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: options.namespace.clone(),
        ..ObjectMeta::default()
    }
}

/// The VideoStream for one stream, or why there can be none.
pub fn stream_manifest(
    stream: &Stream,
    tags: &BTreeMap<String, String>,
    configurations: &Configurations,
    options: &ImportOptions,
    names: &mut HashSet<String>,
) -> std::result::Result<VideoStream, String> {
    let tags = user_tags(tags, "VideoStream", options)?;
    let (adopt_existing, management_policy, deletion_policy) = management(options);
    let spec = VideoStreamSpec {
        stream_name: Some(stream.name.clone()),
        device_name: stream.device_name.clone(),
        media_type: stream.media_type.clone(),
        kms_key_id: stream.kms_key_id.clone(),
        data_retention_in_hours: Some(stream.data_retention_in_hours),
        tags: Some(tags.into()),
        image_generation: configurations.image_generation.clone().map(Box::new),
        notification: configurations.notification.clone().map(Box::new),
        deletion_policy,
        adopt_existing,
        management_policy,
        ..VideoStreamSpec::default()
    };
    Ok(VideoStream {
        metadata: metadata(resource_name(&stream.name, "stream", names), options),
        spec,
        status: None,
    })
}

/// The SignalingChannel for one channel, or why there can be none. `stored_into` is the
/// imported VideoStream its media goes to, if any (otherwise media storage is left
/// unmanaged).
pub fn channel_manifest(
    channel: &Channel,
    tags: &BTreeMap<String, String>,
    stored_into: Option<String>,
    options: &ImportOptions,
    names: &mut HashSet<String>,
) -> std::result::Result<SignalingChannel, String> {
    let tags = user_tags(tags, "SignalingChannel", options)?;
    let (adopt_existing, management_policy, deletion_policy) = management(options);
    let spec = SignalingChannelSpec {
        channel_name: Some(channel.name.clone()),
        message_ttl_seconds: channel
            .message_ttl_seconds
            .unwrap_or(DEFAULT_MESSAGE_TTL_SECONDS),
        tags: Some(tags.into()),
        tag_policy: TagPolicy::default(),
        deletion_policy,
        adopt_existing,
        management_policy,
        media_storage: stored_into.map(|video_stream_name| MediaStorage { video_stream_name }),
        export_to: None,
        _cached_marks: None,
    };
    Ok(SignalingChannel {
        metadata: metadata(resource_name(&channel.name, "channel", names), options),
        spec,
        status: None,
    })
}

/// A unique `metadata.name` for an AWS name: DNS-1123 characters, at most 192 long
/// (`fallback` when nothing of the name is left).
pub fn resource_name(aws_name: &str, fallback: &str, taken: &mut HashSet<String>) -> String {
    let cleaned: String = aws_name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let base = if trimmed.is_empty() {
        fallback
    } else {
        trimmed
    };
    let suffix = format!("-{:08x}", fnv1a(aws_name));
    let mut name = base.to_string();
    // Changed or shortened names get a hash of the original, so two resources never collide.
    if name != aws_name || name.len() > MAX_RESOURCE_NAME || taken.contains(&name) {
        let keep = base.len().min(MAX_RESOURCE_NAME - suffix.len());
        name = format!("{}{suffix}", base[..keep].trim_end_matches('-'));
    }
    taken.insert(name.clone());
    name
}

/// FNV-1a: a small stable hash, so the same stream always gets the same name.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn render(imported: &Imported) -> Result<String> {
    let mut out = String::new();
    for s in &imported.skipped {
        out.push_str(&format!("# skipped {} {}: {}\n", s.noun, s.name, s.reason));
    }
    for vs in &imported.video_streams {
        push_document(&mut out, vs)?;
    }
    for sc in &imported.channels {
        push_document(&mut out, sc)?;
    }
    Ok(out)
}

fn push_document(out: &mut String, resource: &impl Serialize) -> Result<()> {
    out.push_str("---\n");
    let yaml = serde_yaml_ng::to_string(resource)
        .map_err(|e| Error::Config(format!("cannot render a manifest: {e}")))?;
    out.push_str(&yaml);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::StringMap;

    fn options() -> ImportOptions {
        ImportOptions {
            prefix: "site-".into(),
            namespace: Some("cameras".into()),
            deletion_policy: DeletionPolicy::Retain,
            kind: ImportKind::All,
            observe_only: false,
        }
    }

    fn stream_of(
        stream: &Stream,
        tags: &BTreeMap<String, String>,
        options: &ImportOptions,
    ) -> std::result::Result<VideoStream, String> {
        let none = Configurations::default();
        stream_manifest(stream, tags, &none, options, &mut HashSet::new())
    }

    fn stream(name: &str) -> Stream {
        Stream {
            name: name.into(),
            arn: format!("arn:aws:kinesisvideo:us-west-2:1:stream/{name}/1"),
            version: "v1".into(),
            status: ResourceStatus::Active,
            device_name: Some("cam-1".into()),
            media_type: Some("video/h264".into()),
            kms_key_id: Some("arn:aws:kms:us-west-2:1:alias/aws/kinesisvideo".into()),
            data_retention_in_hours: 720,
            creation_time: None,
        }
    }

    #[test]
    fn a_manifest_names_every_field_the_stream_has_and_asks_for_adoption() {
        let tags = BTreeMap::from([
            ("team".to_string(), "ops".to_string()),
            ("aws:cloudformation:stack-id".to_string(), "x".to_string()),
        ]);
        let vs = stream_of(&stream("site-a"), &tags, &options()).unwrap();
        assert_eq!(vs.metadata.name.as_deref(), Some("site-a"));
        assert_eq!(vs.metadata.namespace.as_deref(), Some("cameras"));
        let spec = vs.spec;
        assert_eq!(spec.stream_name.as_deref(), Some("site-a"));
        assert_eq!(spec.device_name.as_deref(), Some("cam-1"));
        assert_eq!(spec.media_type.as_deref(), Some("video/h264"));
        assert_eq!(spec.data_retention_in_hours, Some(720));
        assert!(
            spec.kms_key_id
                .is_some_and(|k| k.ends_with("alias/aws/kinesisvideo"))
        );
        assert_eq!(
            spec.tags,
            Some(StringMap::from([("team".into(), "ops".into())]))
        );
        assert!(spec.adopt_existing);
        assert_eq!(spec.deletion_policy, DeletionPolicy::Retain);
    }

    #[test]
    fn owned_streams_and_streams_without_a_free_tag_are_skipped() {
        let owned = BTreeMap::from([(OWNER_TAG.to_string(), "ns/x".to_string())]);
        let why = stream_of(&stream("s"), &owned, &options()).unwrap_err();
        assert!(why.contains("ns/x"), "{why}");
        let full: BTreeMap<String, String> =
            (0..49).map(|i| (format!("k{i}"), "v".into())).collect();
        let why = stream_of(&stream("s"), &full, &options()).unwrap_err();
        assert!(why.contains("49 tags") && why.contains("two free"), "{why}");
        let room: BTreeMap<String, String> =
            (0..48).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(stream_of(&stream("s"), &room, &options()).is_ok());
    }

    #[test]
    fn resource_names_are_valid_unique_and_stable() {
        let mut taken = HashSet::new();
        assert_eq!(
            resource_name("front-door", "stream", &mut taken),
            "front-door"
        );
        let upper = resource_name("Front_Door.Cam", "stream", &mut taken);
        assert!(upper.starts_with("front-door-cam-"), "{upper}");
        assert_eq!(
            upper,
            resource_name("Front_Door.Cam", "stream", &mut HashSet::new()),
            "stable"
        );
        let other = resource_name("front_door", "stream", &mut taken);
        assert_ne!(other, "front-door", "no collision with the first");
        let long = resource_name(&"a".repeat(256), "stream", &mut taken);
        assert!(long.len() <= MAX_RESOURCE_NAME, "{}", long.len());
        let odd = resource_name("__", "stream", &mut taken);
        assert!(odd.starts_with("stream-"), "{odd}");
        for name in [&upper, &other, &long, &odd] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
    }

    #[test]
    fn the_output_is_yaml_documents_after_the_skipped_comments() {
        let vs = stream_of(&stream("site-a"), &BTreeMap::new(), &options()).unwrap();
        let imported = Imported {
            video_streams: vec![vs],
            channels: Vec::new(),
            skipped: vec![being_deleted("stream", "site-b")],
        };
        let out = render(&imported).unwrap();
        assert!(
            out.starts_with("# skipped stream site-b: it is being deleted\n---\n"),
            "{out}"
        );
        let doc = out.split("---\n").nth(1).unwrap();
        let parsed: VideoStream = serde_yaml_ng::from_str(doc).unwrap();
        assert_eq!(parsed.spec.stream_name.as_deref(), Some("site-a"));
        assert!(
            doc.contains("apiVersion: kvs-operator.dev/v1alpha1")
                && doc.contains("kind: VideoStream"),
            "{doc}"
        );
    }

    fn channel(name: &str) -> Channel {
        Channel {
            name: name.into(),
            arn: format!("arn:aws:kinesisvideo:us-west-2:1:channel/{name}/1"),
            version: "v1".into(),
            status: ResourceStatus::Active,
            message_ttl_seconds: Some(30),
            creation_time: None,
        }
    }

    #[test]
    fn a_channel_manifest_keeps_its_ttl_tags_and_the_video_stream_it_stores_into() {
        let tags = BTreeMap::from([("site".to_string(), "porch".to_string())]);
        let sc = channel_manifest(
            &channel("site-door"),
            &tags,
            Some("site-door-media".into()),
            &options(),
            &mut HashSet::new(),
        )
        .unwrap();
        assert_eq!(sc.metadata.name.as_deref(), Some("site-door"));
        assert_eq!(sc.spec.channel_name.as_deref(), Some("site-door"));
        assert_eq!(sc.spec.message_ttl_seconds, 30);
        assert_eq!(sc.spec.tags, Some(tags.into()));
        assert!(sc.spec.adopt_existing);
        assert_eq!(
            sc.spec
                .media_storage
                .map(|m| m.video_stream_name)
                .as_deref(),
            Some("site-door-media")
        );
        let owned = BTreeMap::from([(OWNER_TAG.to_string(), "ns/door".to_string())]);
        let why = channel_manifest(&channel("c"), &owned, None, &options(), &mut HashSet::new())
            .unwrap_err();
        assert!(why.contains("SignalingChannel ns/door"), "{why}");
    }

    #[test]
    fn observe_only_manifests_adopt_nothing_and_include_resources_others_own() {
        let observe = ImportOptions {
            observe_only: true,
            deletion_policy: DeletionPolicy::Delete,
            ..options()
        };
        let owned = BTreeMap::from([(OWNER_TAG.to_string(), "ns/x".to_string())]);
        let vs = stream_of(&stream("s"), &owned, &observe).unwrap();
        assert_eq!(vs.spec.management_policy, ManagementPolicy::ObserveOnly);
        assert!(!vs.spec.adopt_existing);
        assert_eq!(
            vs.spec.deletion_policy,
            DeletionPolicy::Retain,
            "never Delete"
        );
        assert_eq!(
            vs.spec.tags,
            Some(StringMap::default()),
            "the owner tag is not the user's"
        );
        let sc =
            channel_manifest(&channel("c"), &owned, None, &observe, &mut HashSet::new()).unwrap();
        assert_eq!(sc.spec.management_policy, ManagementPolicy::ObserveOnly);
    }

    #[test]
    fn stream_configurations_are_written_as_kvs_reports_them() {
        use crate::api::{ConfigurationStatus, Notification};
        let configurations = Configurations {
            image_generation: None,
            notification: Some(Notification {
                status: ConfigurationStatus::Enabled,
                destination_uri: "arn:aws:sns:us-west-2:123456789012:rings".into(),
            }),
        };
        let vs = stream_manifest(
            &stream("s"),
            &BTreeMap::new(),
            &configurations,
            &options(),
            &mut HashSet::new(),
        )
        .unwrap();
        assert_eq!(
            vs.spec.notification.as_deref(),
            configurations.notification.as_ref()
        );
        assert_eq!(vs.spec.image_generation, None, "absent: not managed");
    }
}
