//! Tenancy: AccountBindings ([`bindings`], their controller), per-account identities and
//! state ([`accounts`]), and the rules, decided before any AWS call: which AccountBinding governs a namespace,
//! whether it lets a VideoStream use its stream name and adopt, and which AWS identity the
//! VideoStream then acts with. Pure functions over what the watches hold.

pub mod accounts;
pub mod bindings;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::ResourceExt;

use crate::Error;
use crate::api::{AccountBinding, Adoption};
use crate::engine::kind::Kind;

/// Who acts at AWS: a role assumed with the operator's credentials (or the operator's own
/// identity when `role_arn` is `None`), in a region. One SDK client exists per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey {
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub region: String,
}

impl IdentityKey {
    /// The operator's own identity in its own region.
    pub fn own(region: &str) -> Self {
        Self {
            role_arn: None,
            external_id: None,
            region: region.to_string(),
        }
    }

    /// The identity a binding names, with `default_region` where it names none.
    pub fn of_binding(binding: &AccountBinding, default_region: &str) -> Self {
        Self {
            role_arn: binding.spec.role_arn.clone(),
            external_id: binding.spec.external_id.clone(),
            region: binding
                .spec
                .region
                .clone()
                .unwrap_or_else(|| default_region.to_string()),
        }
    }

    /// For logs and messages: the role, or "the operator's own identity", and the region.
    pub fn describe(&self) -> String {
        match &self.role_arn {
            Some(role) => format!("role {role} in {}", self.region),
            None => format!("the operator's own identity in {}", self.region),
        }
    }
}

/// The binding that governs a namespace, if any.
#[derive(Debug, Clone, PartialEq)]
pub enum Governing<'a> {
    /// No binding selects the namespace.
    None,
    One(&'a AccountBinding),
    /// Several bindings select it; their names, sorted.
    Conflict(Vec<String>),
}

/// The bindings that select `namespace` (with `labels`): none, one, or a conflict.
pub fn governing<'a>(
    bindings: impl IntoIterator<Item = &'a AccountBinding>,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Governing<'a> {
    let mut selecting: Vec<&AccountBinding> = bindings
        .into_iter()
        .filter(|b| b.selects(namespace, labels))
        .collect();
    match selecting.len() {
        0 => Governing::None,
        1 => Governing::One(selecting.remove(0)),
        _ => {
            let mut names: Vec<String> = selecting.iter().map(|b| b.name_any()).collect();
            names.sort();
            Governing::Conflict(names)
        }
    }
}

/// What one VideoStream asks of its binding.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub namespace: &'a str,
    pub stream_name: &'a str,
    pub adopt: bool,
}

/// The identity `request` acts with, or the refusal, decided without calling AWS.
///
/// `require_binding`: a namespace no binding selects is refused rather than served with
/// the operator's own identity.
pub fn place(
    governing: &Governing<'_>,
    request: Request<'_>,
    require_binding: bool,
    default_region: &str,
) -> Result<Placement, Error> {
    let binding = match governing {
        Governing::None if require_binding => {
            return Err(Error::NoAccountBinding(format!(
                "no AccountBinding selects namespace {}, and the operator requires one (--require-account-binding); ask a cluster admin to bind it",
                request.namespace
            )));
        }
        Governing::None => {
            return Ok(Placement {
                binding: None,
                identity: IdentityKey::own(default_region),
            });
        }
        Governing::Conflict(names) => {
            return Err(Error::AccountBindingConflict(format!(
                "namespace {} is selected by several AccountBindings ({}); exactly one may select it",
                request.namespace,
                names.join(", ")
            )));
        }
        Governing::One(binding) => binding,
    };
    let name = binding.name_any();
    let prefixes = &binding.spec.stream_name_prefixes;
    if !prefixes.iter().any(|p| request.stream_name.starts_with(p)) {
        return Err(Error::NameNotPermitted(format!(
            "stream name {} is not permitted by AccountBinding {name}: it must begin with {}",
            request.stream_name,
            quoted_list(prefixes)
        )));
    }
    if request.adopt && binding.spec.adoption == Adoption::Forbidden {
        return Err(Error::AdoptionNotPermitted(format!(
            "AccountBinding {name} forbids adopting existing streams (spec.adoption: Forbidden); remove spec.adoptExisting or ask a cluster admin"
        )));
    }
    Ok(Placement {
        binding: Some(name),
        identity: IdentityKey::of_binding(binding, default_region),
    })
}

/// The operator's own tenancy settings (its flags): what namespaces no binding selects may
/// do, and the region they act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// `--require-account-binding`.
    pub require_binding: bool,
    /// The operator's own region.
    pub default_region: String,
}

/// Where `object` acts at AWS, or why it may not, from the AccountBindings and its
/// namespace's labels: the one tenancy decision that the controller (from its watches) and
/// `kvs-operator plan` (from one read of the cluster) both make, so a plan follows every
/// rule the controller does.
pub fn placement<'a, K: Kind>(
    object: &K,
    bindings: impl IntoIterator<Item = &'a AccountBinding>,
    namespace_labels: &BTreeMap<String, String>,
    rules: &Rules,
) -> Result<Placement, Error> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.aws_name();
    let request = Request {
        namespace: &namespace,
        stream_name: &name,
        adopt: object.adopt_existing(),
    };
    let governing = governing(bindings, &namespace, namespace_labels);
    place(
        &governing,
        request,
        rules.require_binding,
        &rules.default_region,
    )
}

/// Where a permitted VideoStream acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The governing binding's name; `None` for the operator's own identity.
    pub binding: Option<String>,
    pub identity: IdentityKey,
}

fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// Whether `labels` satisfy a Kubernetes label selector (`matchLabels` and every
/// `matchExpressions` requirement). An empty selector matches everything, as in Kubernetes.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    labels_match
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|requirement| requirement_matches(requirement, labels))
}

fn requirement_matches(
    requirement: &LabelSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let value = labels.get(&requirement.key);
    let values = requirement.values.as_deref().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        // The API server refuses other operators; match nothing rather than everything.
        _ => false,
    }
}

/// The account and region an ARN names (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
pub fn arn_scope(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, _) = (parts.next()?, parts.next()?, parts.next()?);
    let region = parts.next()?;
    let account = parts.next()?;
    (!region.is_empty() && !account.is_empty()).then_some((account, region))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AccountBindingSpec;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn binding(name: &str, spec: AccountBindingSpec) -> AccountBinding {
        AccountBinding::new(name, spec)
    }

    fn tenant_a() -> AccountBinding {
        binding(
            "tenant-a",
            AccountBindingSpec {
                namespaces: Some(vec!["team-a".into()]),
                stream_name_prefixes: vec!["a-".into(), "shared-a-".into()],
                role_arn: Some("arn:aws:iam::111111111111:role/tenant-a".into()),
                region: Some("eu-west-1".into()),
                ..AccountBindingSpec::default()
            },
        )
    }

    fn by_label() -> AccountBinding {
        binding(
            "cameras",
            AccountBindingSpec {
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(labels(&[("kvs", "cameras")]).into_iter().collect()),
                    match_expressions: Some(vec![LabelSelectorRequirement {
                        key: "env".into(),
                        operator: "NotIn".into(),
                        values: Some(vec!["dev".into()]),
                    }]),
                }),
                stream_name_prefixes: vec!["cam-".into()],
                adoption: Adoption::Allowed,
                ..AccountBindingSpec::default()
            },
        )
    }

    fn request<'a>(namespace: &'a str, stream_name: &'a str, adopt: bool) -> Request<'a> {
        Request {
            namespace,
            stream_name,
            adopt,
        }
    }

    #[test]
    fn a_namespace_is_selected_by_name_or_by_labels() {
        let cases = [
            (tenant_a(), "team-a", labels(&[]), true, "listed"),
            (tenant_a(), "team-b", labels(&[]), false, "not listed"),
            (
                by_label(),
                "x",
                labels(&[("kvs", "cameras")]),
                true,
                "labels match",
            ),
            (
                by_label(),
                "x",
                labels(&[("kvs", "cameras"), ("env", "dev")]),
                false,
                "NotIn excludes",
            ),
            (
                by_label(),
                "x",
                labels(&[("kvs", "other")]),
                false,
                "wrong value",
            ),
        ];
        for (binding, namespace, labels, expected, why) in cases {
            assert_eq!(binding.selects(namespace, &labels), expected, "{why}");
        }
    }

    #[test]
    fn selector_operators_follow_kubernetes() {
        let requirement = |operator: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: operator.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..LabelSelector::default()
        };
        let gold = labels(&[("tier", "gold")]);
        let none = labels(&[]);
        assert!(selector_matches(
            &requirement("In", &["gold", "silver"]),
            &gold
        ));
        assert!(!selector_matches(&requirement("In", &["gold"]), &none));
        assert!(selector_matches(&requirement("NotIn", &["silver"]), &gold));
        assert!(selector_matches(&requirement("NotIn", &["silver"]), &none));
        assert!(selector_matches(&requirement("Exists", &[]), &gold));
        assert!(selector_matches(&requirement("DoesNotExist", &[]), &none));
        assert!(!selector_matches(&requirement("Bogus", &[]), &gold));
        assert!(selector_matches(&LabelSelector::default(), &none));
    }

    #[test]
    fn two_bindings_on_one_namespace_conflict() {
        let other = binding(
            "tenant-a-too",
            AccountBindingSpec {
                namespaces: Some(vec!["team-a".into()]),
                stream_name_prefixes: vec!["x".into()],
                ..AccountBindingSpec::default()
            },
        );
        let bindings = [tenant_a(), other, by_label()];
        assert_eq!(
            governing(&bindings, "team-a", &labels(&[])),
            Governing::Conflict(vec!["tenant-a".into(), "tenant-a-too".into()])
        );
        assert_eq!(
            governing(&bindings, "elsewhere", &labels(&[])),
            Governing::None
        );
        let placed = place(
            &governing(&bindings, "team-a", &labels(&[])),
            request("team-a", "a-cam", false),
            false,
            "us-west-2",
        );
        let error = placed.unwrap_err();
        assert_eq!(error.reason(), "AccountBindingConflict");
        assert!(
            error.to_string().contains("tenant-a, tenant-a-too"),
            "{error}"
        );
    }

    #[test]
    fn a_bound_namespace_uses_the_bindings_identity_within_its_prefixes() {
        let bindings = [tenant_a()];
        let governing = governing(&bindings, "team-a", &labels(&[]));
        let placed = place(
            &governing,
            request("team-a", "a-cam", false),
            false,
            "us-west-2",
        );
        assert_eq!(
            placed.unwrap(),
            Placement {
                binding: Some("tenant-a".into()),
                identity: IdentityKey {
                    role_arn: Some("arn:aws:iam::111111111111:role/tenant-a".into()),
                    external_id: None,
                    region: "eu-west-1".into(),
                },
            }
        );
        let refused = place(
            &governing,
            request("team-a", "b-cam", false),
            false,
            "us-west-2",
        )
        .unwrap_err();
        assert_eq!(refused.reason(), "NameNotPermitted");
        assert!(
            refused.to_string().contains("\"a-\", \"shared-a-\""),
            "{refused}"
        );
    }

    #[test]
    fn adoption_is_refused_unless_the_binding_allows_it() {
        let forbidden = [tenant_a()];
        let governing_a = governing(&forbidden, "team-a", &labels(&[]));
        let refused =
            place(&governing_a, request("team-a", "a-cam", true), false, "r").unwrap_err();
        assert_eq!(refused.reason(), "AdoptionNotPermitted");

        let allowed = [by_label()];
        let ns = labels(&[("kvs", "cameras")]);
        let governing_c = governing(&allowed, "site", &ns);
        let placed = place(
            &governing_c,
            request("site", "cam-1", true),
            false,
            "us-west-2",
        );
        assert_eq!(
            placed.unwrap().identity,
            IdentityKey::own("us-west-2"),
            "no role: the operator's own identity, in its own region"
        );
    }

    #[test]
    fn an_unbound_namespace_uses_the_operators_identity_unless_a_binding_is_required() {
        let placed = place(
            &Governing::None,
            request("ns", "any", true),
            false,
            "us-west-2",
        );
        assert_eq!(
            placed.unwrap(),
            Placement {
                binding: None,
                identity: IdentityKey::own("us-west-2")
            }
        );
        let refused = place(
            &Governing::None,
            request("ns", "any", false),
            true,
            "us-west-2",
        )
        .unwrap_err();
        assert_eq!(refused.reason(), "NoAccountBinding");
    }

    #[test]
    fn arns_name_their_account_and_region() {
        assert_eq!(
            arn_scope("arn:aws:kinesisvideo:eu-west-1:111111111111:stream/cam/1"),
            Some(("111111111111", "eu-west-1"))
        );
        assert_eq!(arn_scope("arn:aws:iam::1:role/x"), None);
        assert_eq!(arn_scope("nonsense"), None);
    }
}
