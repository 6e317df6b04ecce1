//! Bad input of every kind gets an AWS-shaped answer and leaves the emulator serving:
//! requests signed with the wrong secret, and a seeded fuzz of random bodies for every
//! operation (KVS, STS and the admin API). A panic anywhere would show as a response that
//! never comes.

mod common;

use aws_sdk_kinesisvideo::config::Credentials;
use common::{
    REGION, base_credentials, client, client_with, credentials, error_of, post, raw, start_with,
    sts_client,
};
use kvs_emulator::{Operation, Running};
use serde_json::{Map, Number, Value, json};

/// Session credentials from AssumeRole, with their secret.
async fn session(emulator: &Running) -> (String, String, String) {
    let out = sts_client(emulator, REGION, base_credentials())
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/tenant-a")
        .role_session_name("robustness")
        .send()
        .await
        .expect("assume role");
    let creds = out.credentials().expect("credentials");
    (
        creds.access_key_id().to_owned(),
        creds.secret_access_key().to_owned(),
        creds.session_token().to_owned(),
    )
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_signature_and_changes_nothing() {
    let emulator = start_with(common::instant_settings()).await;
    let (key, secret, token) = session(&emulator).await;
    let good = client_with(&emulator, REGION, credentials(&key, &secret, Some(&token)));
    good.create_stream()
        .stream_name("signed")
        .send()
        .await
        .expect("the right secret signs");

    let forged: Credentials = credentials(&key, "not-the-secret", Some(&token));
    let bad = client_with(&emulator, REGION, forged.clone());
    let (code, status, message) = error_of(bad.create_stream().stream_name("forged").send().await);
    assert_eq!((code.as_str(), status), ("InvalidSignatureException", 403));
    assert!(message.contains("signature we calculated"), "{message}");
    assert!(
        emulator
            .stream_in("111111111111", REGION, "forged")
            .is_none()
    );
    let calls = emulator.calls_of_in("111111111111", REGION, Operation::CreateStream);
    assert_eq!(calls.errors_of("InvalidSignatureException"), 1);

    let sts = sts_client(&emulator, REGION, forged);
    let err = sts
        .get_caller_identity()
        .send()
        .await
        .expect_err("a forged STS call");
    let code = aws_sdk_sts::error::ProvideErrorMetadata::code(&err).unwrap_or_default();
    assert_eq!(code, "SignatureDoesNotMatch");
}

/// Member names of the KVS inputs, so random bodies reach past decoding into the rules.
const MEMBERS: &[&str] = &[
    "StreamName",
    "StreamARN",
    "DeviceName",
    "MediaType",
    "KmsKeyId",
    "DataRetentionInHours",
    "Tags",
    "StreamStorageConfiguration",
    "DefaultStorageTier",
    "MaxResults",
    "NextToken",
    "StreamNameCondition",
    "ComparisonOperator",
    "ComparisonValue",
    "CurrentVersion",
    "Operation",
    "DataRetentionChangeInHours",
    "TagKeyList",
    "APIName",
    "ImageGenerationConfiguration",
    "NotificationConfiguration",
    "Status",
    "ImageSelectorType",
    "DestinationConfig",
    "Uri",
    "DestinationRegion",
    "SamplingInterval",
    "Format",
    "FormatConfig",
    "WidthPixels",
    "HeightPixels",
    "ChannelName",
    "ChannelARN",
    "ChannelType",
    "SingleMasterConfiguration",
    "MessageTtlSeconds",
    "ChannelNameCondition",
    "SingleMasterChannelEndpointConfiguration",
    "Protocols",
    "Role",
    "MediaStorageConfiguration",
    "ResourceARN",
    "Key",
    "Value",
    "JPEGQuality",
];

/// Values the model's enums and names use, mixed with text no model allows.
const WORDS: &[&str] = &[
    "a",
    "b",
    "cam",
    "",
    "ENABLED",
    "DISABLED",
    "HOT",
    "WARM",
    "INCREASE_DATA_RETENTION",
    "DECREASE_DATA_RETENTION",
    "BEGINS_WITH",
    "PUT_MEDIA",
    "GET_IMAGES",
    "SINGLE_MASTER",
    "FULL_MESH",
    "WSS",
    "WEBRTC",
    "MASTER",
    "VIEWER",
    "JPEG",
    "SERVER_TIMESTAMP",
    "s3://bucket/x",
    "us-west-2",
    "80",
    "aws:reserved",
    "é π 漢字",
    "semi;colon",
    "\u{0}\u{1f}\u{7f}",
    "arn:aws:kinesisvideo:us-west-2:123456789012:stream/a/1",
    "arn:aws:kinesisvideo:us-west-2:123456789012:channel/a/1",
    "arn:aws:kinesisvideo:us-west-2:123456789012:thing/a/1",
    "arn:aws:kinesisvideo:::",
    "ffff",
    "zz",
];

/// A seeded generator of request bodies.
struct Fuzz {
    rng: fastrand::Rng,
}

impl Fuzz {
    fn word(&mut self) -> String {
        match self.rng.u8(..4) {
            0 => (0..self.rng.usize(..80))
                .map(|_| self.rng.char(..))
                .collect(),
            1 => {
                // Past the model's longest strings (2048) now and then.
                let word = WORDS[self.rng.usize(..WORDS.len())];
                word.repeat(if self.rng.u8(..8) == 0 { 300 } else { 2 })
            }
            _ => WORDS[self.rng.usize(..WORDS.len())].to_owned(),
        }
    }

    fn number(&mut self) -> Value {
        match self.rng.u8(..6) {
            0 => json!(i64::MAX),
            1 => json!(u64::MAX),
            2 => json!(i64::MIN),
            3 => Number::from_f64(self.rng.f64() * 1e300).map_or(Value::Null, Value::Number),
            _ => json!(self.rng.i64(-3..100_000)),
        }
    }

    fn value(&mut self, depth: u8) -> Value {
        match self.rng.u8(..if depth > 2 { 4 } else { 7 }) {
            0 | 1 => Value::String(self.word()),
            2 => self.number(),
            3 => match self.rng.u8(..2) {
                0 => Value::Bool(self.rng.bool()),
                _ => Value::Null,
            },
            4 => {
                // Past the model's longest lists (50) now and then.
                let length = if self.rng.u8(..8) == 0 { 60 } else { 3 };
                Value::Array((0..length).map(|_| self.value(depth + 1)).collect())
            }
            _ => self.object(depth + 1),
        }
    }

    fn object(&mut self, depth: u8) -> Value {
        let mut map = Map::new();
        for _ in 0..self.rng.usize(..8) {
            let key = if self.rng.u8(..8) == 0 {
                self.word()
            } else {
                MEMBERS[self.rng.usize(..MEMBERS.len())].to_owned()
            };
            map.insert(key, self.value(depth));
        }
        Value::Object(map)
    }

    /// A body: mostly an object of the models' members, sometimes text that is not a
    /// JSON object at all.
    fn body(&mut self) -> Vec<u8> {
        match self.rng.u8(..10) {
            0 => (0..self.rng.usize(..200))
                .map(|_| self.rng.u8(..))
                .collect(),
            1 => {
                let text = self.object(0).to_string();
                let cut = self.rng.usize(..=text.len());
                text.as_bytes()[..cut].to_vec()
            }
            2 => self.value(0).to_string().into_bytes(),
            _ => self.object(0).to_string().into_bytes(),
        }
    }

    /// A query-protocol form body of STS's parameters.
    fn form(&mut self) -> String {
        let names = [
            "Action",
            "Version",
            "RoleArn",
            "RoleSessionName",
            "DurationSeconds",
            "ExternalId",
            "Policy",
            "Tags.member.1.Key",
            "Tags.member.999999999999.Value",
            "PolicyArns.member.1.arn",
            "TransitiveTagKeys.member.1",
        ];
        let actions = ["AssumeRole", "GetCallerIdentity", "CreateStream", ""];
        (0..self.rng.usize(..8))
            .map(|_| {
                let name = names[self.rng.usize(..names.len())];
                let value = match name {
                    "Action" => actions[self.rng.usize(..actions.len())].to_owned(),
                    "RoleArn" if self.rng.bool() => "arn:aws:iam::111111111111:role/r".to_owned(),
                    _ => self.word(),
                };
                let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
                format!("{name}={value}")
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The seed of a run that does not name one: every run is the same unless
/// `KVS_FUZZ_SEED` asks for another (any u64 explores new bodies).
const DEFAULT_SEED: u64 = 0x4b56_5300_2017_0930;

/// The seed: `KVS_FUZZ_SEED` when set, else [`DEFAULT_SEED`]; printed either way.
fn seed() -> u64 {
    let seed = std::env::var("KVS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    println!("fuzz seed: {seed} (replay with KVS_FUZZ_SEED={seed})");
    seed
}

/// Bodies per KVS operation.
const BODIES: usize = 150;

#[tokio::test]
async fn random_bodies_for_every_operation_get_aws_shaped_answers() {
    let seed = seed();
    let mut fuzz = Fuzz {
        rng: fastrand::Rng::with_seed(seed),
    };
    let emulator = start_with(common::instant_settings()).await;
    let kvs = client(&emulator);
    for name in ["a", "b"] {
        kvs.create_stream()
            .stream_name(name)
            .data_retention_in_hours(24)
            .send()
            .await
            .expect("create");
        kvs.create_signaling_channel()
            .channel_name(name)
            .send()
            .await
            .expect("create channel");
    }
    let mut answered = 0;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for op in Operation::ALL {
        let Some(path) = op.path() else { continue };
        for _ in 0..BODIES {
            let body = fuzz.body();
            let response = post_bytes(&emulator, path, &body).await;
            let shown = String::from_utf8_lossy(&body);
            assert!(
                response.status == 200 || (400..500).contains(&response.status),
                "seed {seed}: {op} answered {} to {shown}: {}",
                response.status,
                response.body
            );
            let outcome = match response.header("x-amzn-ErrorType") {
                Some(code) => code.to_owned(),
                None => {
                    assert_eq!(response.status, 200, "seed {seed}: {op}: no error type");
                    "success".to_owned()
                }
            };
            *outcomes.entry(outcome).or_default() += 1;
            answered += 1;
        }
    }
    for _ in 0..BODIES {
        let form = fuzz.form();
        let mut headers = common::SIGNED.to_vec();
        headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        let response = raw(&emulator, "POST", "/", &headers, form.as_bytes()).await;
        assert!(
            response.status == 200 || (400..500).contains(&response.status),
            "seed {seed}: STS answered {} to {form}: {}",
            response.status,
            response.body
        );
        assert!(response.body.contains("Response"), "{}", response.body);
        answered += 1;
    }
    for _ in 0..BODIES / 5 {
        let body = fuzz.body();
        let response = raw(&emulator, "PUT", "/_emulator/config", &[], &body).await;
        assert!(
            matches!(response.status, 200 | 400),
            "seed {seed}: the admin API answered {} to {}",
            response.status,
            String::from_utf8_lossy(&body)
        );
        answered += 1;
    }
    // Whatever the settings became, the emulator still serves and its state reads.
    emulator
        .set_settings(common::instant_settings())
        .expect("reset settings");
    kvs.list_streams().send().await.expect("still serving");
    let _ = (emulator.streams(), emulator.channels(), emulator.call_log());
    let counted: u64 = emulator.calls().values().map(|calls| calls.total).sum();
    assert!(
        counted >= 27 * BODIES as u64,
        "every call was counted: {counted}"
    );
    println!("{answered} random requests answered: {outcomes:?}");
    // The bodies reached past decoding and validation into the services' rules.
    for reached in [
        "success",
        "ResourceNotFoundException",
        "InvalidArgumentException",
    ] {
        assert!(
            outcomes.contains_key(reached),
            "seed {seed}: never {reached}"
        );
    }
}

async fn post_bytes(emulator: &Running, path: &str, body: &[u8]) -> common::RawResponse {
    let mut headers = common::SIGNED.to_vec();
    headers.push(("Content-Type", "application/json"));
    raw(emulator, "POST", path, &headers, body).await
}

#[tokio::test]
async fn a_signed_body_cannot_be_swapped() {
    // A raw request that claims a session's key but carries a made-up signature: the
    // signature is checked against the body that arrived.
    let emulator = start_with(common::instant_settings()).await;
    let (key, _, token) = session(&emulator).await;
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={key}/20260101/{REGION}/kinesisvideo/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000"
    );
    let headers = [
        ("Authorization", authorization.as_str()),
        ("X-Amz-Date", "20260101T000000Z"),
        ("X-Amz-Security-Token", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let response = raw(&emulator, "POST", "/listStreams", &headers, b"{}").await;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("InvalidSignatureException")
    );
    // Base credentials have no secret the emulator knows: their signatures pass unchecked.
    let unchecked = post(&emulator, "/listStreams", "{}").await;
    assert_eq!(unchecked.status, 200, "{}", unchecked.body);
}
