//! Who is calling: base credentials act in an account named by the settings (or the
//! emulator's default account); credentials issued by AssumeRole act as their role, in
//! its account, until they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use crate::model::config::{RoleRule, Settings};
use crate::model::operation::Operation;
use crate::wire::sigv4::Signature;

/// Prefix of the access key ids of temporary credentials, as AWS issues them.
pub const SESSION_KEY_PREFIX: &str = "ASIA";
/// Expired sessions are remembered this long (answering ExpiredToken rather than
/// "unrecognised"), then forgotten.
const FORGET_EXPIRED_AFTER: Duration = Duration::from_secs(3600);

/// The identity a call acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    pub account: String,
    /// `arn:aws:iam::ACCOUNT:root` for base credentials,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` for a session.
    pub arn: String,
    /// GetCallerIdentity's UserId: the account id, or `ROLEID:SESSION`.
    pub user_id: String,
    /// The assumed role, for session credentials.
    pub role_arn: Option<String>,
    /// The secret of session credentials, with which their signatures are checked (the
    /// emulator cannot know the secret of base credentials).
    pub secret_access_key: Option<String>,
}

impl Caller {
    /// The name prefixes the caller's role restricts it to, if any (read from the
    /// current settings, as IAM evaluates a role's policies on every call).
    pub fn name_prefixes<'s>(&self, settings: &'s Settings) -> Option<&'s [String]> {
        self.rule(settings)?.name_prefixes.as_deref()
    }

    /// Whether the caller's role lets it call `op` (any caller without an `actions` rule
    /// may).
    pub fn may_call(&self, settings: &Settings, op: Operation) -> bool {
        let actions = self.rule(settings).and_then(|rule| rule.actions.as_ref());
        actions.is_none_or(|actions| actions.contains(&op))
    }

    fn rule<'s>(&self, settings: &'s Settings) -> Option<&'s RoleRule> {
        settings.sts.roles.get(self.role_arn.as_ref()?)
    }
}

/// Temporary credentials issued by AssumeRole.
#[derive(Debug, Clone)]
pub struct Session {
    pub session_token: String,
    pub caller: Caller,
    /// Wall-clock expiry, as the answer's `Expiration` says.
    pub expiration: SystemTime,
    /// The same moment on the monotonic clock, used for the checks.
    pub expires_at: Instant,
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// A temporary key the emulator never issued, or a session token that does not
    /// belong to the key.
    Unrecognized,
    /// The session (acting in `account`) has expired.
    Expired { account: String },
}

impl IdentityError {
    /// The account the refused credentials belong to, when known.
    pub fn account(&self) -> Option<&str> {
        match self {
            IdentityError::Unrecognized => None,
            IdentityError::Expired { account } => Some(account),
        }
    }
}

/// Every session issued and not yet forgotten.
#[derive(Debug, Default)]
pub struct Sessions {
    by_key: HashMap<String, Session>,
}

impl Sessions {
    /// Remembers a new session, forgetting those long expired.
    pub fn insert(&mut self, session: Session, now: Instant) {
        self.by_key
            .retain(|_, s| now.saturating_duration_since(s.expires_at) < FORGET_EXPIRED_AFTER);
        self.by_key
            .insert(session.caller.access_key_id.clone(), session);
    }

    /// The caller a signature acts as.
    pub fn identify(
        &self,
        signature: &Signature,
        settings: &Settings,
        default_account: &str,
        now: Instant,
    ) -> Result<Caller, IdentityError> {
        let key = &signature.access_key_id;
        if let Some(session) = self.by_key.get(key) {
            if signature.session_token.as_deref() != Some(session.session_token.as_str()) {
                return Err(IdentityError::Unrecognized);
            }
            if now >= session.expires_at {
                return Err(IdentityError::Expired {
                    account: session.caller.account.clone(),
                });
            }
            return Ok(session.caller.clone());
        }
        if key.starts_with(SESSION_KEY_PREFIX) {
            return Err(IdentityError::Unrecognized);
        }
        let account = settings
            .sts
            .access_keys
            .get(key)
            .map_or(default_account, String::as_str);
        Ok(base_caller(key, account))
    }
}

/// Base credentials: the account's root identity, as GetCallerIdentity reports
/// long-term keys the emulator knows no user for.
fn base_caller(access_key_id: &str, account: &str) -> Caller {
    Caller {
        access_key_id: access_key_id.to_owned(),
        account: account.to_owned(),
        arn: format!("arn:aws:iam::{account}:root"),
        user_id: account.to_owned(),
        role_arn: None,
        secret_access_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(key: &str, token: Option<&str>) -> Signature {
        Signature {
            access_key_id: key.into(),
            region: "us-west-2".into(),
            session_token: token.map(str::to_owned),
            proof: None,
        }
    }

    #[test]
    fn base_keys_sessions_and_expiry() {
        let mut settings = Settings::default();
        settings
            .sts
            .access_keys
            .insert("AKIAOTHER".into(), "222222222222".into());
        let mut sessions = Sessions::default();
        let now = Instant::now();
        let default = "123456789012";
        let base = sessions
            .identify(&signature("AKIDEXAMPLE", None), &settings, default, now)
            .unwrap();
        assert_eq!(base.account, default);
        assert_eq!(base.arn, "arn:aws:iam::123456789012:root");
        let other = sessions
            .identify(&signature("AKIAOTHER", None), &settings, default, now)
            .unwrap();
        assert_eq!(other.account, "222222222222");
        assert_eq!(
            sessions.identify(&signature("ASIAUNKNOWN", None), &settings, default, now),
            Err(IdentityError::Unrecognized)
        );

        let caller = Caller {
            access_key_id: "ASIAISSUED".into(),
            account: "111111111111".into(),
            arn: "arn:aws:sts::111111111111:assumed-role/r/s".into(),
            user_id: "AROAX:s".into(),
            role_arn: Some("arn:aws:iam::111111111111:role/r".into()),
            secret_access_key: Some("secret".into()),
        };
        sessions.insert(
            Session {
                session_token: "TOKEN".into(),
                caller: caller.clone(),
                expiration: SystemTime::now() + Duration::from_secs(1),
                expires_at: now + Duration::from_secs(1),
            },
            now,
        );
        let issued = signature("ASIAISSUED", Some("TOKEN"));
        assert_eq!(
            sessions.identify(&issued, &settings, default, now),
            Ok(caller)
        );
        assert_eq!(
            sessions.identify(&signature("ASIAISSUED", None), &settings, default, now),
            Err(IdentityError::Unrecognized)
        );
        assert_eq!(
            sessions.identify(&issued, &settings, default, now + Duration::from_secs(1)),
            Err(IdentityError::Expired {
                account: "111111111111".into()
            })
        );
    }
}
