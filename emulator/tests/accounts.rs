//! STS and tenancy through the real SDKs: AssumeRole and GetCallerIdentity with
//! aws-sdk-sts, KVS clients whose credentials come from aws-config's AssumeRoleProvider,
//! accounts from credentials, regions from the SigV4 scope, and state, quotas, counters
//! and the call log per (account, region).

mod common;

use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_kinesisvideo::config::Region;
use common::{
    ACCOUNT, BASE_KEY, REGION, base_credentials, client, client_with, code_and_status, credentials,
    error_of, instant_settings, start, start_with, sts_client,
};
use kvs_emulator::{Operation, RoleRule, Running, Scope, Settings};

const TENANT_ACCOUNT: &str = "111111111111";
const TENANT_ROLE: &str = "arn:aws:iam::111111111111:role/tenant-a";
const OTHER_REGION: &str = "eu-west-1";

/// The base SdkConfig an operator builds: its own credentials, a region, the endpoint.
async fn base_sdk_config(emulator: &Running, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(base_credentials())
        .endpoint_url(emulator.url())
        .load()
        .await
}

/// A KVS client acting as `role` through aws-config's AssumeRoleProvider, configured
/// from the base SdkConfig (so STS is called on the emulator too).
async fn assumed_client(
    emulator: &Running,
    role: &str,
    external_id: Option<&str>,
    region: &str,
) -> aws_sdk_kinesisvideo::Client {
    let base = base_sdk_config(emulator, region).await;
    let mut builder = AssumeRoleProvider::builder(role)
        .session_name("kvs-operator")
        .region(Region::new(region.to_owned()));
    if let Some(external_id) = external_id {
        builder = builder.external_id(external_id);
    }
    let provider = builder.configure(&base).build().await;
    let config = aws_sdk_kinesisvideo::config::Builder::from(&base)
        .credentials_provider(provider)
        .retry_config(aws_sdk_kinesisvideo::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(config)
}

fn tenant_rule(rule: RoleRule) -> Settings {
    let mut settings = instant_settings();
    settings.sts.roles.insert(TENANT_ROLE.into(), rule);
    settings
}

/// Session credentials from AssumeRole with the base key, as static SDK credentials.
async fn assume(emulator: &Running, role: &str) -> aws_sdk_kinesisvideo::config::Credentials {
    let out = sts_client(emulator, REGION, base_credentials())
        .assume_role()
        .role_arn(role)
        .role_session_name("test-session")
        .send()
        .await
        .expect("assume role");
    let creds = out.credentials().expect("credentials");
    credentials(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token()),
    )
}

#[tokio::test]
async fn assume_role_issues_credentials_of_the_role_account() {
    let emulator = start().await;
    let sts = sts_client(&emulator, REGION, base_credentials());
    let before = SystemTime::now();
    let out = sts
        .assume_role()
        .role_arn(TENANT_ROLE)
        .role_session_name("kvs-operator")
        .duration_seconds(900)
        .send()
        .await
        .expect("assume role");
    let creds = out.credentials().expect("credentials");
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert_eq!(creds.access_key_id().len(), 20);
    assert_eq!(creds.secret_access_key().len(), 40);
    assert!(creds.session_token().len() > 100);
    let expires = SystemTime::try_from(*creds.expiration()).expect("expiration");
    let lifetime = expires.duration_since(before).expect("in the future");
    assert!(
        lifetime > Duration::from_secs(895) && lifetime <= Duration::from_secs(901),
        "{lifetime:?}"
    );
    let user = out.assumed_role_user().expect("assumed role user");
    assert_eq!(
        user.arn(),
        "arn:aws:sts::111111111111:assumed-role/tenant-a/kvs-operator"
    );
    let (role_id, session) = user.assumed_role_id().split_once(':').expect("id:session");
    assert!(
        role_id.starts_with("AROA") && role_id.len() == 21,
        "{role_id}"
    );
    assert_eq!(session, "kvs-operator");

    let base = sts
        .get_caller_identity()
        .send()
        .await
        .expect("base identity");
    assert_eq!(base.account(), Some(ACCOUNT));
    assert_eq!(base.arn(), Some("arn:aws:iam::123456789012:root"));
    assert_eq!(base.user_id(), Some(ACCOUNT));
    let session_creds = credentials(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token()),
    );
    let assumed = sts_client(&emulator, REGION, session_creds)
        .get_caller_identity()
        .send()
        .await
        .expect("assumed identity");
    assert_eq!(assumed.account(), Some(TENANT_ACCOUNT));
    assert_eq!(assumed.arn(), Some(user.arn()));
    assert_eq!(assumed.user_id(), Some(user.assumed_role_id()));

    // A second session of the same role keeps the RoleId and gets new keys.
    let again = sts
        .assume_role()
        .role_arn(TENANT_ROLE)
        .role_session_name("other")
        .send()
        .await
        .expect("assume again");
    let again_user = again.assumed_role_user().expect("user");
    assert!(again_user.assumed_role_id().starts_with(role_id));
    assert_ne!(
        again.credentials().expect("creds").access_key_id(),
        creds.access_key_id()
    );
    assert_eq!(emulator.calls_of(Operation::AssumeRole).succeeded, 2);
    assert_eq!(emulator.calls_of(Operation::GetCallerIdentity).succeeded, 1);
    assert_eq!(
        emulator
            .calls_of_in(TENANT_ACCOUNT, REGION, Operation::GetCallerIdentity)
            .succeeded,
        1,
        "counted where the session acts"
    );
}

#[tokio::test]
async fn assume_role_provider_client_acts_in_the_role_account_and_signing_region() {
    let emulator = start_with(tenant_rule(RoleRule {
        external_id: Some("cluster-1".into()),
        ..RoleRule::default()
    }))
    .await;
    let kvs = assumed_client(&emulator, TENANT_ROLE, Some("cluster-1"), OTHER_REGION).await;
    let arn = kvs
        .create_stream()
        .stream_name("team-a-door")
        .send()
        .await
        .expect("create through the role")
        .stream_arn
        .expect("arn");
    assert!(
        arn.starts_with("arn:aws:kinesisvideo:eu-west-1:111111111111:stream/team-a-door/"),
        "{arn}"
    );
    let info = kvs
        .describe_stream()
        .stream_name("team-a-door")
        .send()
        .await
        .expect("describe")
        .stream_info
        .expect("info");
    assert_eq!(
        info.kms_key_id(),
        Some("arn:aws:kms:eu-west-1:111111111111:alias/aws/kinesisvideo")
    );

    // The stream exists in the role's account and the signing region only.
    let stream = emulator
        .stream_in(TENANT_ACCOUNT, OTHER_REGION, "team-a-door")
        .expect("in the tenant scope");
    assert_eq!(stream.stream_arn, arn);
    assert!(emulator.streams().is_empty(), "not in the default scope");
    assert!(emulator.streams_in(TENANT_ACCOUNT, REGION).is_empty());
    assert!(emulator.streams_in(ACCOUNT, OTHER_REGION).is_empty());
    let base_listing = client_with(&emulator, OTHER_REGION, base_credentials())
        .list_streams()
        .send()
        .await
        .expect("base list");
    assert!(base_listing.stream_info_list().is_empty());
    let (code, status) = code_and_status(
        client_with(&emulator, OTHER_REGION, base_credentials())
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));

    // The provider assumed the role once (from the base account, in its region) and the
    // KVS calls were counted in the tenant scope.
    assert_eq!(
        emulator
            .calls_of_in(ACCOUNT, OTHER_REGION, Operation::AssumeRole)
            .succeeded,
        1
    );
    let tenant_calls = emulator.calls_in(TENANT_ACCOUNT, OTHER_REGION);
    assert_eq!(tenant_calls[&Operation::CreateStream].succeeded, 1);
    assert_eq!(tenant_calls[&Operation::DescribeStream].succeeded, 1);
    assert_eq!(
        emulator.scopes(),
        [
            Scope::new(TENANT_ACCOUNT, OTHER_REGION),
            Scope::new(ACCOUNT, OTHER_REGION),
        ]
    );
}

#[tokio::test]
async fn trust_rules_refuse_roles_and_external_ids() {
    let emulator = start_with(tenant_rule(RoleRule {
        external_id: Some("cluster-1".into()),
        ..RoleRule::default()
    }))
    .await;
    let sts = sts_client(&emulator, REGION, base_credentials());
    let assume = |external_id: Option<&'static str>| {
        sts.assume_role()
            .role_arn(TENANT_ROLE)
            .role_session_name("op")
            .set_external_id(external_id.map(str::to_owned))
            .send()
    };
    let denied = format!(
        "User: arn:aws:iam::123456789012:root is not authorized to perform: sts:AssumeRole \
         on resource: {TENANT_ROLE}"
    );
    for external_id in [None, Some("cluster-2")] {
        let (code, status, message) = error_of(assume(external_id).await);
        assert_eq!((code.as_str(), status), ("AccessDenied", 403));
        assert_eq!(message, denied);
    }
    assume(Some("cluster-1")).await.expect("right external id");

    emulator
        .update_settings(|s| {
            s.sts.roles.get_mut(TENANT_ROLE).expect("rule").deny =
                Some("tenant-a is suspended".into());
        })
        .expect("settings");
    let (code, _, message) = error_of(assume(Some("cluster-1")).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("AccessDenied", "tenant-a is suspended")
    );

    // Through the provider, a denied role means no credentials, so no KVS call at all.
    let kvs = assumed_client(&emulator, TENANT_ROLE, Some("cluster-1"), REGION).await;
    let err = kvs
        .list_streams()
        .send()
        .await
        .expect_err("no credentials for a denied role");
    let text = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    assert!(text.contains("tenant-a is suspended"), "{text}");
    assert!(emulator.calls_in(TENANT_ACCOUNT, REGION).is_empty());

    emulator
        .update_settings(|s| s.sts.require_listed_roles = true)
        .expect("settings");
    let (code, _) = code_and_status(
        sts.assume_role()
            .role_arn("arn:aws:iam::222222222222:role/unlisted")
            .role_session_name("op")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    // Two external ids, the deny, the provider's attempt and the unlisted role.
    assert_eq!(
        emulator
            .calls_of(Operation::AssumeRole)
            .errors_of("AccessDenied"),
        5
    );
}

#[tokio::test]
async fn assume_role_validates_like_the_model() {
    let emulator = start().await;
    let sts = sts_client(&emulator, REGION, base_credentials());
    // Role ARN, session name, DurationSeconds, ExternalId, the field the message names.
    type Case = (
        &'static str,
        &'static str,
        Option<i32>,
        Option<&'static str>,
        &'static str,
    );
    let cases: [Case; 6] = [
        ("short", "op", None, None, "'roleArn'"),
        (TENANT_ROLE, "x", None, None, "'roleSessionName'"),
        (TENANT_ROLE, "has space", None, None, "'roleSessionName'"),
        (TENANT_ROLE, "op", Some(899), None, "'durationSeconds'"),
        (TENANT_ROLE, "op", Some(43_201), None, "'durationSeconds'"),
        (TENANT_ROLE, "op", None, Some("a;b"), "'externalId'"),
    ];
    for (role, session, duration, external_id, field) in cases {
        let (code, status, message) = error_of(
            sts.assume_role()
                .role_arn(role)
                .role_session_name(session)
                .set_duration_seconds(duration)
                .set_external_id(external_id.map(str::to_owned))
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), status),
            ("ValidationError", 400),
            "{message}"
        );
        assert!(message.contains(field), "{field}: {message}");
    }
    let (code, _, message) = error_of(
        sts.assume_role()
            .role_arn("arn:aws:iam::111111111111:user/not-a-role")
            .role_session_name("op")
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ValidationError", "Request ARN is invalid")
    );
    // Past the role's MaxSessionDuration (3600 s unless the rule says more).
    let (code, _, message) = error_of(
        sts.assume_role()
            .role_arn(TENANT_ROLE)
            .role_session_name("op")
            .duration_seconds(7200)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    assert!(message.contains("MaxSessionDuration"), "{message}");
    assert_eq!(
        emulator
            .calls_of(Operation::AssumeRole)
            .errors_of("ValidationError"),
        8
    );
}

#[tokio::test]
async fn expired_and_unknown_session_credentials_are_refused() {
    let mut settings = instant_settings();
    settings.sts.session_lifetime = Some(Duration::from_millis(300));
    let emulator = start_with(settings).await;
    let out = sts_client(&emulator, REGION, base_credentials())
        .assume_role()
        .role_arn(TENANT_ROLE)
        .role_session_name("short")
        .send()
        .await
        .expect("assume role");
    let creds = out.credentials().expect("credentials");
    let expires = SystemTime::try_from(*creds.expiration()).expect("expiration");
    assert!(
        expires < SystemTime::now() + Duration::from_secs(2),
        "Expiration tells the short lifetime"
    );
    let session = credentials(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token()),
    );
    let kvs = client_with(&emulator, REGION, session.clone());
    kvs.list_streams().send().await.expect("valid while fresh");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (code, status, message) = error_of(kvs.list_streams().send().await);
    assert_eq!((code.as_str(), status), ("ExpiredTokenException", 403));
    assert_eq!(
        message,
        "The security token included in the request is expired"
    );
    let (code, status, _) = error_of(
        sts_client(&emulator, REGION, session)
            .get_caller_identity()
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ExpiredToken", 403));
    let expired = emulator.calls_of_in(TENANT_ACCOUNT, REGION, Operation::ListStreams);
    assert_eq!(
        (
            expired.succeeded,
            expired.errors_of("ExpiredTokenException")
        ),
        (1, 1)
    );

    let never_issued = credentials("ASIAEXAMPLEEXAMPLE01", "secret", Some("token"));
    let (code, status) = code_and_status(
        client_with(&emulator, REGION, never_issued)
            .list_streams()
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), status),
        ("UnrecognizedClientException", 403)
    );
    let wrong_token = credentials(creds.access_key_id(), "secret", Some("not-the-token"));
    let (code, _) = code_and_status(
        client_with(&emulator, REGION, wrong_token)
            .list_streams()
            .send()
            .await,
    );
    assert_eq!(code, "UnrecognizedClientException");
    let (code, status, _) = error_of(
        sts_client(
            &emulator,
            REGION,
            credentials("ASIAEXAMPLEEXAMPLE01", "secret", Some("token")),
        )
        .get_caller_identity()
        .send()
        .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidClientTokenId", 403));
    // Refused credentials that name no account are logged, but counted nowhere.
    let unrecognized: Vec<_> = emulator
        .call_log()
        .into_iter()
        .filter(|r| r.account.is_none())
        .collect();
    assert_eq!(unrecognized.len(), 3);
    assert!(!emulator.calls().contains_key(&Operation::ListStreams));
}

#[tokio::test]
async fn name_prefixes_restrict_a_role_like_an_iam_policy() {
    let mut settings = tenant_rule(RoleRule {
        name_prefixes: Some(vec!["team-a-".into()]),
        ..RoleRule::default()
    });
    // An admin key of the tenant account, to make a stream the role may not touch.
    settings
        .sts
        .access_keys
        .insert("AKIATENANTADMIN".into(), TENANT_ACCOUNT.into());
    let emulator = start_with(settings).await;
    let admin = client_with(
        &emulator,
        REGION,
        credentials("AKIATENANTADMIN", "secret", None),
    );
    let foreign_arn = admin
        .create_stream()
        .stream_name("team-b-door")
        .send()
        .await
        .expect("admin creates")
        .stream_arn
        .expect("arn");
    let role = client_with(&emulator, REGION, assume(&emulator, TENANT_ROLE).await);
    role.create_stream()
        .stream_name("team-a-door")
        .send()
        .await
        .expect("inside the prefix");
    let (code, status, message) =
        error_of(role.create_stream().stream_name("team-b-cam").send().await);
    assert_eq!((code.as_str(), status), ("AccessDeniedException", 401));
    assert_eq!(
        message,
        "User: arn:aws:sts::111111111111:assumed-role/tenant-a/test-session is not \
         authorized to perform: kinesisvideo:CreateStream on resource: \
         arn:aws:kinesisvideo:us-west-2:111111111111:stream/team-b-cam/* because no \
         identity-based policy allows the kinesisvideo:CreateStream action"
    );
    let (code, _) = code_and_status(role.describe_stream().stream_arn(&foreign_arn).send().await);
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = code_and_status(role.delete_stream().stream_arn(&foreign_arn).send().await);
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = code_and_status(
        role.tag_stream()
            .stream_name("team-b-door")
            .tags("k", "v")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    // ListStreams cannot be restricted to resources: it sees the whole account.
    let listed = role.list_streams().send().await.expect("list");
    assert_eq!(listed.stream_info_list().len(), 2);
    assert!(
        emulator
            .stream_in(TENANT_ACCOUNT, REGION, "team-b-door")
            .is_some(),
        "the foreign stream is untouched"
    );
    // Base credentials of the default account are not restricted, and see nothing here.
    assert!(
        client(&emulator)
            .list_streams()
            .send()
            .await
            .expect("list")
            .stream_info_list()
            .is_empty()
    );
}

#[tokio::test]
async fn regions_come_from_the_signing_scope() {
    let emulator = start().await;
    let west = client(&emulator);
    let east = client_with(&emulator, "us-east-1", base_credentials());
    let west_arn = west
        .create_stream()
        .stream_name("cam")
        .send()
        .await
        .expect("create west")
        .stream_arn
        .expect("arn");
    let east_arn = east
        .create_stream()
        .stream_name("cam")
        .send()
        .await
        .expect("the same name in another region")
        .stream_arn
        .expect("arn");
    assert!(west_arn.starts_with("arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam/"));
    assert!(east_arn.starts_with("arn:aws:kinesisvideo:us-east-1:123456789012:stream/cam/"));
    let endpoint = east
        .get_data_endpoint()
        .stream_name("cam")
        .api_name(aws_sdk_kinesisvideo::types::ApiName::PutMedia)
        .send()
        .await
        .expect("endpoint")
        .data_endpoint
        .expect("url");
    assert!(
        endpoint.ends_with(".kinesisvideo.us-east-1.amazonaws.com"),
        "{endpoint}"
    );
    let (code, _) = code_and_status(east.describe_stream().stream_arn(&west_arn).send().await);
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(emulator.streams().len(), 1);
    assert_eq!(emulator.streams_in(ACCOUNT, "us-east-1").len(), 1);
    assert_eq!(
        emulator
            .stream_in(ACCOUNT, "us-east-1", "cam")
            .expect("east")
            .stream_arn,
        east_arn
    );
    emulator.clear_streams_in(ACCOUNT, "us-east-1");
    assert!(emulator.streams_in(ACCOUNT, "us-east-1").is_empty());
    assert_eq!(emulator.streams().len(), 1, "other scopes keep theirs");
    emulator.clear_streams();
    assert!(emulator.streams().is_empty());
}

#[tokio::test]
async fn quotas_limits_and_counters_are_per_scope() {
    let mut settings = instant_settings();
    settings.quotas.enabled = true;
    settings
        .quotas
        .account_tps
        .insert(Operation::CreateStream, 2);
    settings.limits.max_streams = Some(3);
    settings
        .sts
        .access_keys
        .insert("AKIAOTHERACCOUNT".into(), "222222222222".into());
    let emulator = start_with(settings).await;
    let clients = [
        client(&emulator),
        client_with(&emulator, "us-east-1", base_credentials()),
        client_with(
            &emulator,
            REGION,
            credentials("AKIAOTHERACCOUNT", "secret", None),
        ),
    ];
    for kvs in &clients {
        for name in ["a", "b"] {
            kvs.create_stream()
                .stream_name(name)
                .send()
                .await
                .expect("within this scope's quota");
        }
        let (code, _) = code_and_status(kvs.create_stream().stream_name("c").send().await);
        assert_eq!(code, "ClientLimitExceededException");
    }
    for scope in [
        (ACCOUNT, REGION),
        (ACCOUNT, "us-east-1"),
        ("222222222222", REGION),
    ] {
        let creates = emulator.calls_of_in(scope.0, scope.1, Operation::CreateStream);
        assert_eq!(creates.total, 3, "{scope:?}");
        assert_eq!(creates.errors_of("ClientLimitExceededException"), 1);
        assert_eq!(emulator.streams_in(scope.0, scope.1).len(), 2);
    }
    assert_eq!(emulator.total_calls(), 3, "the default scope only");
    // Each scope has its own stream limit too.
    emulator.set_quotas_enabled(false);
    clients[0]
        .create_stream()
        .stream_name("c")
        .send()
        .await
        .expect("third stream");
    let (code, _) = code_and_status(clients[0].create_stream().stream_name("d").send().await);
    assert_eq!(code, "AccountStreamLimitExceededException");
    clients[1]
        .create_stream()
        .stream_name("c")
        .send()
        .await
        .expect("the other region still has room");
    assert_eq!(emulator.scopes().len(), 3);
    emulator.reset_calls();
    assert!(emulator.calls_in("222222222222", REGION).is_empty());
    assert!(emulator.call_log().is_empty());
}

#[tokio::test]
async fn the_call_log_orders_every_call_with_who_where_and_outcome() {
    let mut settings = instant_settings();
    settings
        .sts
        .access_keys
        .insert("AKIAFOLLOWER".into(), ACCOUNT.into());
    let emulator = start_with(settings).await;
    let leader = client(&emulator);
    let follower = client_with(
        &emulator,
        REGION,
        credentials("AKIAFOLLOWER", "secret", None),
    );
    leader
        .create_stream()
        .stream_name("cam")
        .send()
        .await
        .expect("create");
    let (code, _) = code_and_status(follower.create_stream().stream_name("cam").send().await);
    assert_eq!(code, "ResourceInUseException");
    follower.list_streams().send().await.expect("list");
    let session = assume(&emulator, TENANT_ROLE).await;
    let role = client_with(&emulator, OTHER_REGION, session.clone());
    role.create_stream()
        .stream_name("tenant-cam")
        .send()
        .await
        .expect("tenant create");

    let log = emulator.call_log();
    let summary: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r.operation,
                r.account.as_deref().unwrap_or("-"),
                r.region.as_str(),
                r.access_key_id.as_str(),
                r.stream.as_deref(),
                r.error.as_deref(),
            )
        })
        .collect();
    let session_key = session.access_key_id();
    assert_eq!(
        summary,
        [
            (
                Operation::CreateStream,
                ACCOUNT,
                REGION,
                BASE_KEY,
                Some("cam"),
                None
            ),
            (
                Operation::CreateStream,
                ACCOUNT,
                REGION,
                "AKIAFOLLOWER",
                Some("cam"),
                Some("ResourceInUseException")
            ),
            (
                Operation::ListStreams,
                ACCOUNT,
                REGION,
                "AKIAFOLLOWER",
                None,
                None
            ),
            (Operation::AssumeRole, ACCOUNT, REGION, BASE_KEY, None, None),
            (
                Operation::CreateStream,
                TENANT_ACCOUNT,
                OTHER_REGION,
                session_key,
                Some("tenant-cam"),
                None
            ),
        ]
    );
    assert_eq!(log[3].role_arn.as_deref(), Some(TENANT_ROLE));
    let writes: Vec<&str> = log
        .iter()
        .filter(|r| r.operation.is_mutation() && r.succeeded())
        .map(|r| r.access_key_id.as_str())
        .collect();
    assert_eq!(writes, [BASE_KEY, session.access_key_id()]);
    assert!(
        log.windows(2)
            .all(|w| w[0].seq < w[1].seq && w[0].time <= w[1].time)
    );
    assert_eq!(emulator.call_log_since(log[2].seq), log[3..]);

    // Bounded: only the newest `capacity` records stay, sequence numbers go on.
    emulator
        .update_settings(|s| s.log.capacity = 2)
        .expect("settings");
    for _ in 0..3 {
        leader.list_streams().send().await.expect("list");
    }
    let tail = emulator.call_log();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[1].seq, log[4].seq + 3);
    emulator.reset_calls();
    assert!(emulator.call_log().is_empty());
}

#[tokio::test]
async fn sts_settings_merge_over_http_and_are_checked() {
    let emulator = start().await;
    let patch = serde_json::json!({"sts": {
        "access_keys": {"AKIAOPERATOR": "333333333333"},
        "roles": {TENANT_ROLE: {"external_id": "x1", "name_prefixes": ["a-"]}},
        "session_lifetime_ms": 1000,
    }});
    let response = common::raw(
        &emulator,
        "PUT",
        "/_emulator/config",
        &[],
        patch.to_string().as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let settings = emulator.settings();
    assert_eq!(settings.sts.access_keys["AKIAOPERATOR"], "333333333333");
    assert_eq!(
        settings.sts.roles[TENANT_ROLE].external_id.as_deref(),
        Some("x1")
    );
    assert_eq!(
        settings.sts.session_lifetime,
        Some(Duration::from_millis(1000))
    );
    // null removes a role rule (JSON merge patch).
    let remove = serde_json::json!({"sts": {"roles": {TENANT_ROLE: null}}});
    let response = common::raw(
        &emulator,
        "PUT",
        "/_emulator/config",
        &[],
        remove.to_string().as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(emulator.settings().sts.roles.is_empty());
    for bad in [
        serde_json::json!({"sts": {"access_keys": {"K": "12"}}}),
        serde_json::json!({"sts": {"roles": {"arn:aws:iam::1:role/x": {}}}}),
        serde_json::json!({"sts": {"roles": {TENANT_ROLE: {"max_session_seconds": 60}}}}),
        serde_json::json!({"sts": {"roles": {TENANT_ROLE: {"name_prefixes": [""]}}}}),
        serde_json::json!({"sts": {"roles": {TENANT_ROLE: {"nonsense": 1}}}}),
    ] {
        let response = common::raw(
            &emulator,
            "PUT",
            "/_emulator/config",
            &[],
            bad.to_string().as_bytes(),
        )
        .await;
        assert_eq!(response.status, 400, "{bad}: {}", response.body);
    }
    assert_eq!(emulator.settings().sts.access_keys.len(), 1, "unchanged");
}

#[tokio::test]
async fn admin_reads_scopes_streams_calls_and_the_log() {
    let emulator = start().await;
    client_with(&emulator, OTHER_REGION, base_credentials())
        .create_stream()
        .stream_name("eu-cam")
        .send()
        .await
        .expect("create");
    let get = |path: &'static str| common::raw(&emulator, "GET", path, &[], b"");
    let scopes = get("/_emulator/scopes").await.json();
    assert_eq!(
        scopes["scopes"],
        serde_json::json!([{"account": ACCOUNT, "region": OTHER_REGION, "streams": 1, "channels": 0, "calls": 1}])
    );
    let streams = get("/_emulator/streams?region=eu-west-1").await.json();
    assert_eq!(streams["streams"][0]["StreamName"], "eu-cam");
    let default = get("/_emulator/streams").await.json();
    assert_eq!(default["streams"], serde_json::json!([]));
    let calls = get("/_emulator/calls?account=123456789012&region=eu-west-1")
        .await
        .json();
    assert_eq!(calls["CreateStream"]["succeeded"], 1);
    let log = get("/_emulator/log").await.json();
    let record = &log["records"][0];
    assert_eq!(record["operation"], "CreateStream");
    assert_eq!(record["region"], OTHER_REGION);
    assert_eq!(record["stream"], "eu-cam");
    assert_eq!(record["error"], serde_json::Value::Null);
    assert_eq!(log["dropped"], 0);
    let seq = record["seq"].as_u64().expect("seq");
    let newer = common::raw(
        &emulator,
        "GET",
        &format!("/_emulator/log?since={seq}"),
        &[],
        b"",
    )
    .await
    .json();
    assert_eq!(newer["records"], serde_json::json!([]));
    assert_eq!(get("/_emulator/log?since=x").await.status, 400);
    let cleared = common::raw(
        &emulator,
        "DELETE",
        "/_emulator/streams?region=eu-west-1",
        &[],
        b"",
    )
    .await;
    assert_eq!(cleared.status, 200);
    assert!(emulator.streams_in(ACCOUNT, OTHER_REGION).is_empty());
}

#[tokio::test]
async fn sts_speaks_the_query_protocol_on_the_root_path() {
    let emulator = start().await;
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let signed: Vec<(&str, &str)> = common::SIGNED.iter().copied().chain(form).collect();
    let ok = common::raw(
        &emulator,
        "POST",
        "/",
        &signed,
        b"Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some("text/xml"));
    assert!(ok.body.starts_with(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:root</Arn>"
    ));
    assert!(ok.body.contains("<ResponseMetadata><RequestId>"));
    // The query string works too (GET, as older clients call it).
    let by_query = common::raw(
        &emulator,
        "GET",
        "/?Action=GetCallerIdentity&Version=2011-06-15",
        common::SIGNED,
        b"",
    )
    .await;
    assert_eq!(by_query.status, 200);

    let missing = common::raw(&emulator, "POST", "/", &signed, b"Version=2011-06-15").await;
    assert_eq!(missing.status, 400);
    assert!(missing.body.starts_with(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
         <Type>Sender</Type><Code>MissingAction</Code>"
    ));
    assert!(missing.body.contains("</Error><RequestId>"));
    let unknown = common::raw(&emulator, "POST", "/", &signed, b"Action=GetSessionToken").await;
    assert!(unknown.body.contains("<Code>InvalidAction</Code>"));
    let unsigned = common::raw(&emulator, "POST", "/", &form, b"Action=GetCallerIdentity").await;
    assert_eq!(unsigned.status, 403);
    assert!(
        unsigned
            .body
            .contains("<Code>MissingAuthenticationToken</Code>")
    );
    assert_eq!(emulator.calls_of(Operation::GetCallerIdentity).succeeded, 2);
}
