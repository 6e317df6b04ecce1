//! The one error type of the operator, and how each error is retried.

use std::time::Duration;

/// Everything that can go wrong in a reconcile, AWS and Kubernetes alike.
///
/// AWS errors are mapped once, in the SDK adapter, to the variants below; the controller
/// only ever looks at [`Error::class`] and [`Error::reason`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ClientLimitExceededException: we called faster than the quota allows.
    #[error("throttled by Kinesis Video Streams: {0}")]
    Throttled(String),
    /// ResourceInUseException: the stream is not ACTIVE, or the name is taken.
    #[error("stream is busy: {0}")]
    ResourceInUse(String),
    /// VersionMismatchException: the stream changed since we observed it.
    #[error("stream changed since it was observed: {0}")]
    VersionMismatch(String),
    /// ResourceNotFoundException where a stream was expected.
    #[error("stream not found: {0}")]
    NotFound(String),
    /// A 5xx, a timeout or a connection failure: worth another try.
    #[error("Kinesis Video Streams is unavailable: {0}")]
    Unavailable(String),
    /// InvalidArgumentException, InvalidDeviceException, InvalidResourceFormatException.
    #[error("{code}: {message}")]
    InvalidArgument { code: String, message: String },
    /// TagsPerResourceExceededLimitException, AccountStreamLimitExceededException,
    /// DeviceStreamLimitExceededException: an account limit the spec runs into.
    #[error("{code}: {message}")]
    LimitExceeded { code: String, message: String },
    /// AccessDeniedException, NotAuthorizedException, or credentials that do not work.
    #[error("{code}: {message}")]
    AccessDenied { code: String, message: String },
    /// Any other error code AWS returns.
    #[error("{code}: {message}")]
    Aws { code: String, message: String },
    /// The stream exists but belongs to another VideoStream, or to nobody and adoption was
    /// not asked for.
    #[error("{0}")]
    NotOwned(String),
    /// The live stream differs in a field KVS cannot change.
    #[error("{0}")]
    Immutable(String),
    /// The spec cannot be applied as written (something the CRD schema cannot express).
    #[error("{0}")]
    InvalidSpec(String),
    /// The stream name is outside the prefixes of the namespace's AccountBinding.
    #[error("{0}")]
    NameNotPermitted(String),
    /// `adoptExisting` under an AccountBinding whose adoption is `Forbidden`.
    #[error("{0}")]
    AdoptionNotPermitted(String),
    /// No AccountBinding selects the namespace and the operator requires one.
    #[error("{0}")]
    NoAccountBinding(String),
    /// Several AccountBindings select the namespace.
    #[error("{0}")]
    AccountBindingConflict(String),
    /// The stream lives in an account or region the namespace's binding no longer reaches.
    #[error("{0}")]
    AccountChanged(String),
    /// This replica may not mutate AWS: it does not hold (or could not renew) the Lease.
    #[error("{0}")]
    NotLeader(String),
    /// A SignalingChannel's media storage names a VideoStream that is not there (yet).
    #[error("{0}")]
    MediaStorageNotReady(String),
    /// A SignalingChannel's media storage names a VideoStream that keeps no data.
    #[error("{0}")]
    MediaStorageNeedsRetention(String),
    /// A SignalingChannel's media storage names a stream its namespace does not own: an
    /// ObserveOnly VideoStream, or a stream whose ownership tags are not this VideoStream's.
    #[error("{0}")]
    MediaStorageNotPermitted(String),
    /// The object's placement (its AccountBinding, identity or shard) changed while its
    /// reconcile was under way: the step stops before its next AWS mutation and starts over.
    #[error("{0}")]
    PlacementChanged(String),
    /// `spec.exportTo` names a ConfigMap this object does not own: it is never overwritten.
    #[error("{0}")]
    ExportConflict(String),
    /// A mutation asked of a read-only client (`kvs-operator plan`): refused, never sent.
    #[error("read-only: {0} was refused, nothing was sent to AWS")]
    ReadOnly(String),
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How an error is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: back off exponentially with jitter and try again.
    Retryable,
    /// Nothing changes until the spec (or the stream) does: report once, retry rarely.
    Terminal,
    /// Credentials or policy: retry slowly, someone has to fix IAM.
    Permission,
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Throttled(_)
            | Error::ResourceInUse(_)
            | Error::VersionMismatch(_)
            | Error::NotFound(_)
            | Error::Unavailable(_)
            | Error::Aws { .. }
            | Error::NotLeader(_)
            | Error::MediaStorageNotReady(_)
            | Error::PlacementChanged(_)
            | Error::Kube(_) => ErrorClass::Retryable,
            Error::InvalidArgument { .. }
            | Error::LimitExceeded { .. }
            | Error::NotOwned(_)
            | Error::Immutable(_)
            | Error::InvalidSpec(_)
            | Error::NameNotPermitted(_)
            | Error::AdoptionNotPermitted(_)
            | Error::NoAccountBinding(_)
            | Error::AccountBindingConflict(_)
            | Error::AccountChanged(_)
            | Error::MediaStorageNeedsRetention(_)
            | Error::MediaStorageNotPermitted(_)
            | Error::ExportConflict(_)
            | Error::ReadOnly(_)
            | Error::Config(_) => ErrorClass::Terminal,
            Error::AccessDenied { .. } => ErrorClass::Permission,
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.class(),
                _ => ErrorClass::Retryable,
            },
        }
    }

    /// The `Synced` condition reason that names this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Throttled(_) => "Throttled",
            Error::ResourceInUse(_) => "ResourceInUse",
            Error::VersionMismatch(_) => "VersionConflict",
            Error::NotFound(_) => "NotFound",
            Error::Unavailable(_) => "AWSUnavailable",
            Error::InvalidArgument { .. } | Error::InvalidSpec(_) => "InvalidSpec",
            Error::LimitExceeded { .. } => "LimitExceeded",
            Error::AccessDenied { .. } => "AccessDenied",
            Error::Aws { .. } => "AWSError",
            Error::NotOwned(_) => "NotOwned",
            Error::Immutable(_) => "Immutable",
            Error::NameNotPermitted(_) => "NameNotPermitted",
            Error::AdoptionNotPermitted(_) => "AdoptionNotPermitted",
            Error::NoAccountBinding(_) => "NoAccountBinding",
            Error::AccountBindingConflict(_) => "AccountBindingConflict",
            Error::AccountChanged(_) => "AccountChanged",
            Error::NotLeader(_) => "NotLeader",
            Error::MediaStorageNotReady(_) => "MediaStorageNotReady",
            Error::MediaStorageNeedsRetention(_) => "MediaStorageNeedsRetention",
            Error::MediaStorageNotPermitted(_) => "MediaStorageNotPermitted",
            Error::PlacementChanged(_) => "PlacementChanged",
            Error::ExportConflict(_) => "ExportConflict",
            Error::ReadOnly(_) => "ReadOnly",
            Error::Kube(_) => "KubernetesError",
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.reason(),
                _ => "KubernetesError",
            },
            Error::Config(_) => "ConfigError",
        }
    }
}

impl ErrorClass {
    /// The delay before retry number `attempt` (1-based), before jitter.
    ///
    /// Retryable errors double from one second to five minutes; terminal errors wait for a
    /// spec change and otherwise only come back at the slow `terminal` pace; permission
    /// errors retry every few minutes so a fixed IAM policy is picked up.
    pub fn backoff(self, attempt: u32, terminal: Duration) -> Duration {
        match self {
            ErrorClass::Retryable => {
                let exp = attempt.saturating_sub(1).min(9);
                Duration::from_secs(1u64 << exp).min(Duration::from_secs(300))
            }
            ErrorClass::Terminal => terminal,
            ErrorClass::Permission => Duration::from_secs(120 * u64::from(attempt.clamp(1, 5))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_backoff_doubles_up_to_five_minutes() {
        let class = ErrorClass::Retryable;
        let terminal = Duration::from_secs(600);
        assert_eq!(class.backoff(1, terminal), Duration::from_secs(1));
        assert_eq!(class.backoff(2, terminal), Duration::from_secs(2));
        assert_eq!(class.backoff(5, terminal), Duration::from_secs(16));
        assert_eq!(class.backoff(30, terminal), Duration::from_secs(300));
    }

    #[test]
    fn terminal_errors_wait_for_the_slow_pace_and_permission_errors_grow_slowly() {
        let terminal = Duration::from_secs(600);
        assert_eq!(ErrorClass::Terminal.backoff(1, terminal), terminal);
        assert_eq!(ErrorClass::Terminal.backoff(9, terminal), terminal);
        assert_eq!(
            ErrorClass::Permission.backoff(1, terminal),
            Duration::from_secs(120)
        );
        assert_eq!(
            ErrorClass::Permission.backoff(50, terminal),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn each_error_family_has_its_class_and_reason() {
        let cases = [
            (
                Error::Throttled("x".into()),
                ErrorClass::Retryable,
                "Throttled",
            ),
            (
                Error::VersionMismatch("x".into()),
                ErrorClass::Retryable,
                "VersionConflict",
            ),
            (
                Error::ResourceInUse("x".into()),
                ErrorClass::Retryable,
                "ResourceInUse",
            ),
            (
                Error::NotOwned("x".into()),
                ErrorClass::Terminal,
                "NotOwned",
            ),
            (
                Error::Immutable("x".into()),
                ErrorClass::Terminal,
                "Immutable",
            ),
            (
                Error::InvalidArgument {
                    code: "InvalidArgumentException".into(),
                    message: "m".into(),
                },
                ErrorClass::Terminal,
                "InvalidSpec",
            ),
            (
                Error::AccessDenied {
                    code: "AccessDeniedException".into(),
                    message: "m".into(),
                },
                ErrorClass::Permission,
                "AccessDenied",
            ),
            (
                Error::Aws {
                    code: "Weird".into(),
                    message: "m".into(),
                },
                ErrorClass::Retryable,
                "AWSError",
            ),
        ];
        for (error, class, reason) in cases {
            assert_eq!(error.class(), class, "{error}");
            assert_eq!(error.reason(), reason, "{error}");
        }
    }
}
