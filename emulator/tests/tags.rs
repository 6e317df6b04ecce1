//! Tag semantics through the real SDK: create with tags, add, overwrite, remove, the
//! 50-tag limit, reserved keys, paging.

mod common;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::operation::tag_stream::TagStreamError;
use common::{client, code_and_status, instant_settings, start, start_with};

async fn all_tags(kvs: &Client, name: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut token = None;
    loop {
        let page = kvs
            .list_tags_for_stream()
            .stream_name(name)
            .set_next_token(token)
            .send()
            .await
            .expect("list tags");
        tags.extend(page.tags().cloned().unwrap_or_default());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return tags;
        }
    }
}

fn numbered(range: std::ops::Range<usize>) -> HashMap<String, String> {
    range
        .map(|i| (format!("k{i:02}"), format!("v{i}")))
        .collect()
}

async fn version(kvs: &Client, name: &str) -> String {
    kvs.describe_stream()
        .stream_name(name)
        .send()
        .await
        .expect("describe")
        .stream_info
        .and_then(|i| i.version)
        .expect("version")
}

#[tokio::test]
async fn tags_are_added_overwritten_and_removed() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let arn = kvs
        .create_stream()
        .stream_name("t")
        .tags("team", "security")
        .tags("site", "berlin")
        .send()
        .await
        .expect("create")
        .stream_arn
        .expect("arn");
    let v = version(&kvs, "t").await;
    assert_eq!(
        all_tags(&kvs, "t").await,
        BTreeMap::from([
            ("site".into(), "berlin".into()),
            ("team".into(), "security".into())
        ])
    );

    kvs.tag_stream()
        .stream_arn(&arn)
        .tags("team", "ops")
        .tags("Équipe: sécurité", "π=3.14 @home")
        .tags("empty", "")
        .send()
        .await
        .expect("tag");
    kvs.untag_stream()
        .stream_name("t")
        .tag_key_list("site")
        .tag_key_list("never-there")
        .send()
        .await
        .expect("untag");
    let expected = BTreeMap::from([
        ("empty".into(), "".into()),
        ("team".into(), "ops".into()),
        ("Équipe: sécurité".into(), "π=3.14 @home".into()),
    ]);
    assert_eq!(all_tags(&kvs, "t").await, expected);
    assert_eq!(emulator.stream("t").map(|s| s.tags), Some(expected));
    assert_eq!(
        version(&kvs, "t").await,
        v,
        "tags are not part of the stream version"
    );

    let missing = kvs
        .tag_stream()
        .stream_name("nope")
        .tags("a", "b")
        .send()
        .await;
    assert_eq!(
        code_and_status(missing),
        ("ResourceNotFoundException".into(), 404)
    );
    let missing = kvs.list_tags_for_stream().stream_name("nope").send().await;
    assert_eq!(code_and_status(missing).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn at_most_fifty_tags() {
    let emulator = start().await;
    let kvs = client(&emulator);
    let too_many = kvs
        .create_stream()
        .stream_name("many")
        .set_tags(Some(numbered(0..51)))
        .send()
        .await;
    assert_eq!(
        code_and_status(too_many),
        ("TagsPerResourceExceededLimitException".into(), 400)
    );
    assert!(
        emulator.streams().is_empty(),
        "a refused create creates nothing"
    );

    kvs.create_stream()
        .stream_name("many")
        .set_tags(Some(numbered(0..40)))
        .send()
        .await
        .expect("40 tags");
    kvs.tag_stream()
        .stream_name("many")
        .set_tags(Some(numbered(35..50)))
        .send()
        .await
        .expect("overwriting 5 and adding 10 makes 50");
    assert_eq!(all_tags(&kvs, "many").await.len(), 50);
    let err = kvs
        .tag_stream()
        .stream_name("many")
        .tags("one-more", "x")
        .send()
        .await
        .expect_err("51st tag");
    assert!(matches!(
        err.into_service_error(),
        TagStreamError::TagsPerResourceExceededLimitException(_)
    ));
    kvs.tag_stream()
        .stream_name("many")
        .tags("k00", "changed")
        .send()
        .await
        .expect("overwriting at the limit is fine");
    let tags = all_tags(&kvs, "many").await;
    assert_eq!(tags.len(), 50);
    assert_eq!(tags.get("k00").map(String::as_str), Some("changed"));
}

#[tokio::test]
async fn reserved_and_malformed_keys_are_refused() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("r")
        .send()
        .await
        .expect("create");
    for key in ["aws:cloudformation:stack-name", "AWS:thing"] {
        let err = kvs
            .tag_stream()
            .stream_name("r")
            .tags(key, "x")
            .send()
            .await;
        assert_eq!(code_and_status(err).0, "InvalidArgumentException", "{key}");
    }
    let err = kvs
        .untag_stream()
        .stream_name("r")
        .tag_key_list("aws:x")
        .send()
        .await;
    assert_eq!(code_and_status(err).0, "InvalidArgumentException");
    let bad = [
        ("semi;colon".to_owned(), "x".to_owned()),
        ("k".repeat(129), "x".to_owned()),
        ("ok".to_owned(), "v".repeat(257)),
        (String::new(), "x".to_owned()),
    ];
    for (key, value) in bad {
        let err = kvs
            .tag_stream()
            .stream_name("r")
            .tags(&key, &value)
            .send()
            .await;
        let (code, _) = code_and_status(err);
        assert_eq!(code, "InvalidArgumentException", "{key:?}={value:?}");
    }
    let empty = kvs
        .untag_stream()
        .stream_name("r")
        .set_tag_key_list(Some(vec![]))
        .send()
        .await;
    assert_eq!(code_and_status(empty).0, "InvalidArgumentException");
    let none = kvs.tag_stream().stream_name("r").send().await;
    assert_eq!(code_and_status(none).0, "InvalidArgumentException");
    assert!(all_tags(&kvs, "r").await.is_empty());

    // Tests may simulate tags that AWS itself puts on streams.
    emulator
        .update_settings(|s| s.limits.allow_reserved_tag_keys = true)
        .expect("settings");
    kvs.tag_stream()
        .stream_name("r")
        .tags("aws:cloudformation:stack-name", "demo")
        .send()
        .await
        .expect("reserved key allowed by setting");
}

#[tokio::test]
async fn list_tags_pages_with_next_token() {
    let mut settings = instant_settings();
    settings.limits.tags_page_size = 7;
    let emulator = start_with(settings).await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("paged")
        .set_tags(Some(numbered(0..20)))
        .send()
        .await
        .expect("create");
    let first = kvs
        .list_tags_for_stream()
        .stream_name("paged")
        .send()
        .await
        .expect("first page");
    assert_eq!(first.tags().map(HashMap::len), Some(7));
    assert!(first.next_token().is_some());
    let all = all_tags(&kvs, "paged").await;
    assert_eq!(all, numbered(0..20).into_iter().collect::<BTreeMap<_, _>>());
    let bad = kvs
        .list_tags_for_stream()
        .stream_name("paged")
        .next_token("@@")
        .send()
        .await;
    assert_eq!(code_and_status(bad).0, "InvalidArgumentException");
}
