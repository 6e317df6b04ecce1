//! STS on the emulator's endpoint, in the query protocol as the SDKs call it
//! (`POST /`, form-encoded `Action=AssumeRole&Version=2011-06-15&…`, XML answers): a table
//! of its two operations over its own state, the sessions it issued. AssumeRole, under the
//! trust rules of the settings, and GetCallerIdentity.
//!
//! Inputs are validated as `sts/2011-06-15/service-2.json` constrains them. Session
//! policies are checked to be JSON but not evaluated; the role's `name_prefixes` stand in
//! for its permissions.

use std::time::{Duration, Instant, SystemTime};

use super::validate::{
    EXTERNAL_ID_PATTERN, ROLE_SESSION_NAME_PATTERN, SERIAL_NUMBER_PATTERN, SESSION_POLICY_PATTERN,
    STS_ARN_PATTERN, TAG_KEY, TAG_VALUE, TOKEN_CODE_PATTERN, Violations,
};
use crate::model::arn::RoleArn;
use crate::model::config::{DEFAULT_MAX_SESSION_SECONDS, RoleRule, Settings};
use crate::model::operation::Operation;
use crate::state::sessions::{Caller, SESSION_KEY_PREFIX, Session, Sessions};
use crate::wire::error::ApiError;
use crate::wire::query::{Params, response_metadata};
use crate::wire::xml::{Xml, iso8601};

/// The XML namespace of every STS answer.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The only API version STS serves.
pub const VERSION: &str = "2011-06-15";

/// DurationSeconds when a request gives none.
const DEFAULT_DURATION_SECONDS: u32 = 3600;
/// A session assumed with session credentials (role chaining) lasts at most an hour.
const CHAINED_MAX_SECONDS: u32 = 3600;
/// Session policies and tags pack into about this many bytes (PackedPolicySize is a
/// percentage of it).
const PACKED_POLICY_BYTES: usize = 2048;

/// What an STS operation acts on besides its parameters.
pub struct StsContext<'a> {
    /// Who calls (a session may assume another role: role chaining).
    pub caller: &'a Caller,
    pub settings: &'a Settings,
    /// STS's own state: the sessions it issued.
    pub sessions: &'a mut Sessions,
    pub now: Instant,
}

/// One row of the table: an operation and its handler, which answers the XML document of
/// the output.
pub type StsRoute = (
    Operation,
    fn(&Params, StsContext<'_>) -> Result<String, ApiError>,
);

/// The STS operations and their handlers.
pub const OPERATIONS: &[StsRoute] = &[
    (Operation::AssumeRole, assume_role),
    (Operation::GetCallerIdentity, get_caller_identity),
];

/// The STS operation a request names by its `Action` (and `Version`).
pub fn operation(params: &Params) -> Result<Operation, ApiError> {
    let action = params.get("Action").ok_or_else(ApiError::missing_action)?;
    let version = params.get("Version").unwrap_or(VERSION);
    OPERATIONS
        .iter()
        .map(|(op, _)| *op)
        .find(|op| op.name() == action)
        .filter(|_| version == VERSION)
        .ok_or_else(|| ApiError::invalid_action(action, version))
}

/// Runs the STS operation `op`.
pub fn dispatch(op: Operation, params: &Params, ctx: StsContext<'_>) -> Result<String, ApiError> {
    let (_, handler) = OPERATIONS
        .iter()
        .find(|(o, _)| *o == op)
        .ok_or_else(|| ApiError::invalid_action(op.name(), VERSION))?;
    handler(params, ctx)
}

/// AssumeRole's input after validation.
struct AssumeRoleInput<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    external_id: Option<&'a str>,
    duration_seconds: Option<u32>,
    policy: Option<&'a str>,
    source_identity: Option<&'a str>,
    /// Bytes of session policy ARNs and tags, which count toward the packed size.
    packed_extra: usize,
}

fn validate_assume_role(params: &Params) -> Result<AssumeRoleInput<'_>, ApiError> {
    let mut v = Violations::new();
    let role_arn = params.get("RoleArn");
    let session_name = params.get("RoleSessionName");
    v.present("roleArn", &role_arn);
    v.string("roleArn", role_arn, 20, 2048, Some(&STS_ARN_PATTERN));
    v.present("roleSessionName", &session_name);
    v.string(
        "roleSessionName",
        session_name,
        2,
        64,
        Some(&ROLE_SESSION_NAME_PATTERN),
    );
    let external_id = params.get("ExternalId");
    v.string(
        "externalId",
        external_id,
        2,
        1224,
        Some(&EXTERNAL_ID_PATTERN),
    );
    let duration_seconds = match params.get("DurationSeconds") {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(seconds) => {
                v.integer("durationSeconds", Some(seconds), 900, Some(43_200));
                u32::try_from(seconds).ok()
            }
            Err(_) => {
                v.not_integer("durationSeconds", text);
                None
            }
        },
    };
    let policy = params.get("Policy");
    v.string(
        "policy",
        policy,
        1,
        usize::MAX,
        Some(&SESSION_POLICY_PATTERN),
    );
    let source_identity = params.get("SourceIdentity");
    v.string(
        "sourceIdentity",
        source_identity,
        2,
        256,
        Some(&ROLE_SESSION_NAME_PATTERN),
    );
    v.string(
        "serialNumber",
        params.get("SerialNumber"),
        9,
        256,
        Some(&SERIAL_NUMBER_PATTERN),
    );
    v.string(
        "tokenCode",
        params.get("TokenCode"),
        6,
        6,
        Some(&TOKEN_CODE_PATTERN),
    );
    let mut packed_extra = 0;
    let policy_arns = params.members("PolicyArns");
    for (index, member) in &policy_arns {
        let arn = member.get("arn").copied();
        v.string(
            &format!("policyArns.{index}.member.arn"),
            arn,
            20,
            2048,
            Some(&STS_ARN_PATTERN),
        );
        packed_extra += arn.map_or(0, str::len);
    }
    let tags = params.members("Tags");
    v.list_length("tags", tags.len(), 50);
    for (index, member) in &tags {
        let key = member.get("Key").copied();
        let value = member.get("Value").copied();
        let field = format!("tags.{index}.member");
        v.present(&format!("{field}.key"), &key);
        v.text(&format!("{field}.key"), key, &TAG_KEY);
        v.present(&format!("{field}.value"), &value);
        v.text(&format!("{field}.value"), value, &TAG_VALUE);
        packed_extra += key.map_or(0, str::len) + value.map_or(0, str::len);
    }
    let transitive = params.members("TransitiveTagKeys");
    v.list_length("transitiveTagKeys", transitive.len(), 50);
    for (index, member) in &transitive {
        let key = member.get("").copied();
        v.text(&format!("transitiveTagKeys.{index}.member"), key, &TAG_KEY);
    }
    v.finish_as(ApiError::validation_error)?;
    Ok(AssumeRoleInput {
        role_arn: role_arn.unwrap_or_default(),
        session_name: session_name.unwrap_or_default(),
        external_id,
        duration_seconds,
        policy,
        source_identity,
        packed_extra,
    })
}

/// The trust rules: whether `caller` may assume the role, and for how long.
fn check_trust(
    input: &AssumeRoleInput<'_>,
    rule: Option<&RoleRule>,
    settings: &Settings,
    caller: &Caller,
) -> Result<u32, ApiError> {
    let not_authorized = || {
        ApiError::sts_access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            caller.arn, input.role_arn
        ))
    };
    let rule = match rule {
        Some(rule) => rule,
        None if settings.sts.require_listed_roles => return Err(not_authorized()),
        None => &RoleRule::default(),
    };
    if let Some(message) = &rule.deny {
        return Err(ApiError::sts_access_denied(message.clone()));
    }
    if rule
        .trusted_accounts
        .as_ref()
        .is_some_and(|accounts| !accounts.contains(&caller.account))
    {
        return Err(not_authorized());
    }
    if let Some(expected) = &rule.external_id
        && input.external_id != Some(expected.as_str())
    {
        return Err(not_authorized());
    }
    let seconds = input.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS);
    let max = rule
        .max_session_seconds
        .unwrap_or(DEFAULT_MAX_SESSION_SECONDS);
    if seconds > max {
        return Err(ApiError::validation_error(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if caller.role_arn.is_some() && seconds > CHAINED_MAX_SECONDS {
        return Err(ApiError::validation_error(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles \
             assumed by role chaining.",
        ));
    }
    Ok(seconds)
}

/// PackedPolicySize: the share (in percent) of the packed space that session policies
/// and tags use, or PackedPolicyTooLarge past 100 %.
fn packed_policy_size(input: &AssumeRoleInput<'_>) -> Result<Option<usize>, ApiError> {
    if let Some(policy) = input.policy
        && !serde_json::from_str::<serde_json::Value>(policy).is_ok_and(|p| p.is_object())
    {
        return Err(ApiError::malformed_policy_document(
            "The policy is not in the valid JSON format.",
        ));
    }
    let bytes = input.policy.map_or(0, str::len) + input.packed_extra;
    if bytes == 0 {
        return Ok(None);
    }
    let percent = (bytes * 100).div_ceil(PACKED_POLICY_BYTES);
    if percent > 100 {
        return Err(ApiError::packed_policy_too_large(format!(
            "Packed policy consumes {percent}% of allotted space, please use smaller policy."
        )));
    }
    Ok(Some(percent))
}

/// AssumeRole: validates, applies the trust rules and issues temporary credentials.
fn assume_role(params: &Params, ctx: StsContext<'_>) -> Result<String, ApiError> {
    let StsContext {
        caller,
        settings,
        sessions,
        now,
    } = ctx;
    let input = validate_assume_role(params)?;
    let role = RoleArn::parse(input.role_arn)
        .ok_or_else(|| ApiError::validation_error("Request ARN is invalid"))?;
    let rule = settings.sts.roles.get(input.role_arn);
    let seconds = check_trust(&input, rule, settings, caller)?;
    let packed = packed_policy_size(&input)?;
    let lifetime = settings
        .sts
        .session_lifetime
        .unwrap_or(Duration::from_secs(u64::from(seconds)));
    let role_id = stable_id("AROA", input.role_arn);
    let session = Session {
        session_token: random_text(356, SECRET_ALPHABET),
        caller: Caller {
            access_key_id: format!("{SESSION_KEY_PREFIX}{}", random_text(16, KEY_ALPHABET)),
            account: role.account.to_owned(),
            arn: format!(
                "arn:{}:sts::{}:assumed-role/{}/{}",
                role.partition, role.account, role.name, input.session_name
            ),
            user_id: format!("{role_id}:{}", input.session_name),
            role_arn: Some(input.role_arn.to_owned()),
            secret_access_key: Some(random_text(40, SECRET_ALPHABET)),
        },
        expiration: SystemTime::now() + lifetime,
        expires_at: now + lifetime,
    };
    let xml = Xml::root(NAMESPACE, "AssumeRoleResponse", |x| {
        x.element("AssumeRoleResult", |x| {
            if let Some(source) = input.source_identity {
                x.text("SourceIdentity", source);
            }
            x.element("AssumedRoleUser", |x| {
                x.text("Arn", &session.caller.arn);
                x.text("AssumedRoleId", &session.caller.user_id);
            });
            x.element("Credentials", |x| {
                x.text("AccessKeyId", &session.caller.access_key_id);
                let secret = session.caller.secret_access_key.as_deref();
                x.text("SecretAccessKey", secret.unwrap_or_default());
                x.text("SessionToken", &session.session_token);
                x.text("Expiration", &iso8601(session.expiration));
            });
            if let Some(percent) = packed {
                x.text("PackedPolicySize", &percent.to_string());
            }
        });
        response_metadata(x);
    });
    sessions.insert(session, now);
    Ok(xml)
}

/// GetCallerIdentity: who the credentials act as.
fn get_caller_identity(_params: &Params, ctx: StsContext<'_>) -> Result<String, ApiError> {
    let caller = ctx.caller;
    Ok(Xml::root(NAMESPACE, "GetCallerIdentityResponse", |x| {
        x.element("GetCallerIdentityResult", |x| {
            x.text("Arn", &caller.arn);
            x.text("UserId", &caller.user_id);
            x.text("Account", &caller.account);
        });
        response_metadata(x);
    }))
}

const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_text(length: usize, alphabet: &[u8]) -> String {
    (0..length)
        .map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())]))
        .collect()
}

/// An id that is the same for the same `seed` (a role keeps its RoleId), shaped like
/// AWS's unique ids: a 4-letter prefix and 17 characters.
fn stable_id(prefix: &str, seed: &str) -> String {
    // FNV-1a, then a linear congruential stream of characters from it.
    let mut state = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut id = prefix.to_owned();
    for _ in 0..17 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let index = usize::try_from(state >> 59).unwrap_or(0) % KEY_ALPHABET.len();
        id.push(char::from(KEY_ALPHABET[index]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Params {
        Params::parse(None, text.as_bytes())
    }

    fn op(text: &str) -> Result<Operation, ApiError> {
        operation(&params(text))
    }

    fn base_caller() -> Caller {
        Caller {
            access_key_id: "AKID".into(),
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:root".into(),
            user_id: "123456789012".into(),
            role_arn: None,
            secret_access_key: None,
        }
    }

    const ROLE: &str = "arn:aws:iam::111111111111:role/tenant-a";

    fn assume_with(
        text: &str,
        settings: &Settings,
        sessions: &mut Sessions,
    ) -> Result<String, ApiError> {
        let caller = base_caller();
        let ctx = StsContext {
            caller: &caller,
            settings,
            sessions,
            now: Instant::now(),
        };
        dispatch(Operation::AssumeRole, &params(text), ctx)
    }

    fn assume(text: &str, settings: &Settings) -> Result<String, ApiError> {
        assume_with(text, settings, &mut Sessions::default())
    }

    #[test]
    fn actions_and_versions() {
        assert_eq!(
            op("Action=AssumeRole&Version=2011-06-15"),
            Ok(Operation::AssumeRole)
        );
        assert_eq!(
            operation(&Params::parse(Some("Action=GetCallerIdentity"), b"")),
            Ok(Operation::GetCallerIdentity)
        );
        assert_eq!(op("").unwrap_err().code, "MissingAction");
        assert_eq!(
            op("Action=AssumeRole&Version=2010-01-01").unwrap_err().code,
            "InvalidAction"
        );
        assert_eq!(op("Action=CreateStream").unwrap_err().code, "InvalidAction");
    }

    #[test]
    fn validation_follows_the_model() {
        let settings = Settings::default();
        let err = assume("RoleArn=short&RoleSessionName=x", &settings).unwrap_err();
        assert_eq!((err.code, err.status), ("ValidationError", 400));
        assert!(
            err.message.starts_with("2 validation errors"),
            "{}",
            err.message
        );
        assert!(err.message.contains("'roleArn'") && err.message.contains("'roleSessionName'"));
        let err = assume(
            &format!("RoleArn={ROLE}&RoleSessionName=s&DurationSeconds=899"),
            &settings,
        )
        .unwrap_err();
        assert!(err.message.contains("'durationSeconds'"), "{}", err.message);
        let err = assume(
            &format!("RoleArn={ROLE}&RoleSessionName=ok&DurationSeconds=soon"),
            &settings,
        )
        .unwrap_err();
        assert!(err.message.contains("integer"), "{}", err.message);
        let err = assume(
            &format!("RoleArn={ROLE}&RoleSessionName=ok&ExternalId=a%3Bb"),
            &settings,
        )
        .unwrap_err();
        assert!(err.message.contains("'externalId'"), "{}", err.message);
        let err = assume(
            "RoleArn=arn:aws:iam::111111111111:user/u&RoleSessionName=ok",
            &settings,
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            ("ValidationError", "Request ARN is invalid")
        );
        let err = assume(
            &format!("RoleArn={ROLE}&RoleSessionName=ok&Policy=not-json"),
            &settings,
        )
        .unwrap_err();
        assert_eq!(err.code, "MalformedPolicyDocument");
    }

    #[test]
    fn trust_rules() {
        let mut settings = Settings::default();
        let ok = format!("RoleArn={ROLE}&RoleSessionName=op");
        assert!(assume(&ok, &settings).is_ok(), "any role by default");
        settings.sts.require_listed_roles = true;
        let err = assume(&ok, &settings).unwrap_err();
        assert_eq!((err.code, err.status), ("AccessDenied", 403));
        assert_eq!(
            err.message,
            format!(
                "User: arn:aws:iam::123456789012:root is not authorized to perform: \
                 sts:AssumeRole on resource: {ROLE}"
            )
        );
        settings.sts.roles.insert(
            ROLE.into(),
            RoleRule {
                external_id: Some("cluster-1".into()),
                ..RoleRule::default()
            },
        );
        assert_eq!(assume(&ok, &settings).unwrap_err().code, "AccessDenied");
        let wrong = format!("{ok}&ExternalId=cluster-2");
        assert_eq!(assume(&wrong, &settings).unwrap_err().code, "AccessDenied");
        let right = format!("{ok}&ExternalId=cluster-1");
        assert!(assume(&right, &settings).is_ok());
        let long = format!("{right}&DurationSeconds=7200");
        assert_eq!(
            assume(&long, &settings).unwrap_err().code,
            "ValidationError"
        );
        settings
            .sts
            .roles
            .get_mut(ROLE)
            .unwrap()
            .max_session_seconds = Some(7200);
        assert!(assume(&long, &settings).is_ok());
        settings.sts.roles.get_mut(ROLE).unwrap().trusted_accounts =
            Some(vec!["999999999999".into()]);
        assert_eq!(assume(&right, &settings).unwrap_err().code, "AccessDenied");
        settings.sts.roles.get_mut(ROLE).unwrap().deny = Some("no tenants today".into());
        let err = assume(&right, &settings).unwrap_err();
        assert_eq!(err.message, "no tenants today");
    }

    #[test]
    fn issued_credentials_act_as_the_role() {
        let settings = Settings::default();
        let text = format!("RoleArn={ROLE}&RoleSessionName=op&SourceIdentity=me");
        let xml = assume(&text, &settings).unwrap();
        assert!(
            xml.contains("<Arn>arn:aws:sts::111111111111:assumed-role/tenant-a/op</Arn>"),
            "{xml}"
        );
        assert!(xml.contains("<AccessKeyId>ASIA"), "{xml}");
        assert!(xml.contains("<SourceIdentity>me</SourceIdentity>"), "{xml}");
        assert!(!xml.contains("PackedPolicySize"), "{xml}");
        let id = stable_id("AROA", ROLE);
        assert_eq!(id.len(), 21);
        assert_eq!(id, stable_id("AROA", ROLE));
        assert_ne!(
            id,
            stable_id("AROA", "arn:aws:iam::111111111111:role/other")
        );
        assert!(xml.contains(&format!("<AssumedRoleId>{id}:op</AssumedRoleId>")));
    }
}
