//! `kvs-operator import`: VideoStream manifests that adopt existing streams, so a team can
//! move streams made by hand (or by Terraform) under GitOps without touching them.
//!
//! Each manifest names every field the stream has, exactly as KVS reports it, so adopting
//! it writes the owner and cluster tags and nothing else.

use std::collections::{BTreeMap, HashSet};

use kube::api::ObjectMeta;

use crate::api::{
    DeletionPolicy, MAX_RESOURCE_NAME, MAX_USER_TAGS, OWNER_TAG, VideoStream, VideoStreamSpec,
};
use crate::engine::ownership::is_reserved_tag;
use crate::kvs::{KinesisVideo, ResourceStatus, Stream, TagRead};
use crate::{Error, Result};

/// What to import and how the manifests are written.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Only streams whose name begins with this.
    pub prefix: String,
    /// `metadata.namespace` of the manifests (none: the namespace kubectl applies to).
    pub namespace: Option<String>,
    /// Retain by default: deleting an imported manifest should not delete years of video.
    pub deletion_policy: DeletionPolicy,
}

/// One stream that was not turned into a manifest, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub stream: String,
    pub reason: String,
}

/// Lists the streams under the prefix (all pages) with their tags and renders the
/// manifests as one multi-document YAML, skipped streams listed as comments first.
pub async fn import(kvs: &dyn KinesisVideo, options: &ImportOptions) -> Result<String> {
    let streams = kvs.list_streams(Some(&options.prefix)).await?;
    let mut resources = Vec::new();
    let mut skipped = Vec::new();
    let mut names = HashSet::new();
    for stream in streams {
        if stream.status == ResourceStatus::Deleting {
            skipped.push(Skipped {
                stream: stream.name.clone(),
                reason: "it is being deleted".into(),
            });
            continue;
        }
        let tags = kvs.list_tags(&stream.arn, TagRead::Fresh).await?;
        match manifest(&stream, &tags, options, &mut names) {
            Ok(vs) => resources.push(vs),
            Err(reason) => skipped.push(Skipped {
                stream: stream.name.clone(),
                reason,
            }),
        }
    }
    render(&resources, &skipped)
}

/// The adopting VideoStream for one stream, or why there can be none.
pub fn manifest(
    stream: &Stream,
    tags: &BTreeMap<String, String>,
    options: &ImportOptions,
    names: &mut HashSet<String>,
) -> std::result::Result<VideoStream, String> {
    if let Some(owner) = tags.get(OWNER_TAG) {
        return Err(format!("it is already managed by VideoStream {owner}"));
    }
    let user_tags: BTreeMap<String, String> = tags
        .iter()
        .filter(|(key, _)| !is_reserved_tag(key))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if tags.len() > MAX_USER_TAGS || user_tags.len() > MAX_USER_TAGS {
        return Err(format!(
            "it has {} tags: adopting it needs two free tags (of 50) for the owner and cluster tags",
            tags.len()
        ));
    }
    let spec = VideoStreamSpec {
        stream_name: Some(stream.name.clone()),
        device_name: stream.device_name.clone(),
        media_type: stream.media_type.clone(),
        kms_key_id: stream.kms_key_id.clone(),
        data_retention_in_hours: Some(stream.data_retention_in_hours),
        tags: Some(user_tags),
        storage_tier: None,
        deletion_policy: options.deletion_policy,
        adopt_existing: true,
        ..VideoStreamSpec::default()
    };
    Ok(VideoStream {
        metadata: ObjectMeta {
            name: Some(resource_name(&stream.name, names)),
            namespace: options.namespace.clone(),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    })
}

/// A unique `metadata.name` for a stream name: DNS-1123 characters, at most 192 long.
pub fn resource_name(stream_name: &str, taken: &mut HashSet<String>) -> String {
    let cleaned: String = stream_name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let base = if trimmed.is_empty() {
        "stream"
    } else {
        trimmed
    };
    let suffix = format!("-{:08x}", fnv1a(stream_name));
    let mut name = base.to_string();
    // Changed or shortened names get a hash of the original, so two streams never collide.
    if name != stream_name || name.len() > MAX_RESOURCE_NAME || taken.contains(&name) {
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

fn render(resources: &[VideoStream], skipped: &[Skipped]) -> Result<String> {
    let mut out = String::new();
    for s in skipped {
        out.push_str(&format!("# skipped {}: {}\n", s.stream, s.reason));
    }
    for vs in resources {
        out.push_str("---\n");
        let yaml = serde_yaml_ng::to_string(vs)
            .map_err(|e| Error::Config(format!("cannot render a manifest: {e}")))?;
        out.push_str(&yaml);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ImportOptions {
        ImportOptions {
            prefix: "site-".into(),
            namespace: Some("cameras".into()),
            deletion_policy: DeletionPolicy::Retain,
        }
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
        let vs = manifest(&stream("site-a"), &tags, &options(), &mut HashSet::new()).unwrap();
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
            Some(BTreeMap::from([("team".into(), "ops".into())]))
        );
        assert!(spec.adopt_existing);
        assert_eq!(spec.deletion_policy, DeletionPolicy::Retain);
    }

    #[test]
    fn owned_streams_and_streams_without_a_free_tag_are_skipped() {
        let owned = BTreeMap::from([(OWNER_TAG.to_string(), "ns/x".to_string())]);
        let why = manifest(&stream("s"), &owned, &options(), &mut HashSet::new()).unwrap_err();
        assert!(why.contains("ns/x"), "{why}");
        let full: BTreeMap<String, String> =
            (0..49).map(|i| (format!("k{i}"), "v".into())).collect();
        let why = manifest(&stream("s"), &full, &options(), &mut HashSet::new()).unwrap_err();
        assert!(why.contains("49 tags") && why.contains("two free"), "{why}");
        let room: BTreeMap<String, String> =
            (0..48).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(manifest(&stream("s"), &room, &options(), &mut HashSet::new()).is_ok());
    }

    #[test]
    fn resource_names_are_valid_unique_and_stable() {
        let mut taken = HashSet::new();
        assert_eq!(resource_name("front-door", &mut taken), "front-door");
        let upper = resource_name("Front_Door.Cam", &mut taken);
        assert!(upper.starts_with("front-door-cam-"), "{upper}");
        assert_eq!(
            upper,
            resource_name("Front_Door.Cam", &mut HashSet::new()),
            "stable"
        );
        let other = resource_name("front_door", &mut taken);
        assert_ne!(other, "front-door", "no collision with the first");
        let long = resource_name(&"a".repeat(256), &mut taken);
        assert!(long.len() <= MAX_RESOURCE_NAME, "{}", long.len());
        let odd = resource_name("__", &mut taken);
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
        let vs = manifest(
            &stream("site-a"),
            &BTreeMap::new(),
            &options(),
            &mut HashSet::new(),
        )
        .unwrap();
        let skipped = [Skipped {
            stream: "site-b".into(),
            reason: "it is being deleted".into(),
        }];
        let out = render(&[vs], &skipped).unwrap();
        assert!(
            out.starts_with("# skipped site-b: it is being deleted\n---\n"),
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
}
