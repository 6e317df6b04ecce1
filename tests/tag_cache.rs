//! The tag cache against kvs-emulator: it saves ListTagsForStream calls while staying exact
//! for the operator's own writes, and sees outside changes once an entry ages out.

use std::collections::BTreeMap;
use std::time::Duration;

use kvs_emulator::{Emulator, Operation, Running};
use kvs_operator::kvs::sdk::SdkKinesisVideo;
use kvs_operator::kvs::tag_cache::TagCached;
use kvs_operator::kvs::{KinesisVideo, NewStream, TagRead};

mod common;
use common::{emulator_config, sdk_client};

async fn emulator() -> Running {
    Emulator::start(emulator_config(Duration::ZERO))
        .await
        .expect("emulator starts")
}

fn sdk(emulator: &Running) -> SdkKinesisVideo {
    SdkKinesisVideo::new(sdk_client(emulator))
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Creates stream `s` with `tags` through `kvs`; its ARN.
async fn create(kvs: &dyn KinesisVideo, tags: BTreeMap<String, String>) -> String {
    let stream = NewStream {
        name: "s".into(),
        tags,
        ..NewStream::default()
    };
    kvs.create_stream(&stream).await.expect("stream created")
}

fn list_calls(emulator: &Running) -> u64 {
    emulator.calls_of(Operation::ListTagsForStream).total
}

#[tokio::test]
async fn the_operators_own_tag_writes_need_no_listing() {
    let emulator = emulator().await;
    let cached = TagCached::new(sdk(&emulator), Duration::from_secs(600));
    let arn = create(&cached, tags(&[("team", "a")])).await;
    assert_eq!(
        cached.list_tags(&arn, TagRead::Cached).await.unwrap(),
        tags(&[("team", "a")])
    );

    cached.tag(&arn, &tags(&[("site", "hq")])).await.unwrap();
    cached.untag(&arn, &["team".to_string()]).await.unwrap();
    let known = cached.list_tags(&arn, TagRead::Cached).await.unwrap();

    assert_eq!(known, tags(&[("site", "hq")]));
    assert_eq!(
        known,
        emulator.stream("s").unwrap().tags,
        "the cache is exact"
    );
    assert_eq!(list_calls(&emulator), 0);
}

#[tokio::test]
async fn a_change_made_elsewhere_is_seen_once_the_entry_ages_out() {
    let emulator = emulator().await;
    let cached = TagCached::new(sdk(&emulator), Duration::from_millis(300));
    let plain = sdk(&emulator);
    let arn = create(&cached, tags(&[("team", "a")])).await;
    plain.tag(&arn, &tags(&[("intruder", "x")])).await.unwrap();
    assert_eq!(
        cached.list_tags(&arn, TagRead::Cached).await.unwrap(),
        tags(&[("team", "a")]),
        "still fresh"
    );

    tokio::time::sleep(Duration::from_millis(350)).await;
    let seen = cached.list_tags(&arn, TagRead::Cached).await.unwrap();
    assert_eq!(seen, tags(&[("intruder", "x"), ("team", "a")]));
    assert_eq!(list_calls(&emulator), 1);
}

#[tokio::test]
async fn a_failed_tag_write_forgets_the_entry() {
    let emulator = emulator().await;
    let cached = TagCached::new(sdk(&emulator), Duration::from_secs(600));
    let arn = create(&cached, BTreeMap::new()).await;
    let too_many: BTreeMap<String, String> =
        (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    assert!(cached.tag(&arn, &too_many).await.is_err());

    assert_eq!(
        cached.list_tags(&arn, TagRead::Cached).await.unwrap(),
        BTreeMap::new()
    );
    assert_eq!(list_calls(&emulator), 1, "asked AWS after the failure");
}

#[tokio::test]
async fn a_fresh_read_always_asks_aws_and_refreshes_the_entry() {
    let emulator = emulator().await;
    let cached = TagCached::new(sdk(&emulator), Duration::from_secs(600));
    let plain = sdk(&emulator);
    let arn = create(&cached, tags(&[("team", "a")])).await;
    plain.tag(&arn, &tags(&[("intruder", "x")])).await.unwrap();

    let fresh = cached.list_tags(&arn, TagRead::Fresh).await.unwrap();
    assert_eq!(fresh, tags(&[("intruder", "x"), ("team", "a")]));
    assert_eq!(list_calls(&emulator), 1);
    assert_eq!(
        cached.list_tags(&arn, TagRead::Cached).await.unwrap(),
        fresh,
        "what a fresh read saw is remembered"
    );
    assert_eq!(list_calls(&emulator), 1);
}
