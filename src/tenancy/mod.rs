//! Tenancy: AccountBindings ([`bindings`], their controller), per-account identities and
//! state ([`accounts`]), and the rules — pure functions over what the watches hold:
//!
//! - which AccountBinding governs a namespace ([`governing`]);
//! - where an object acts at AWS and what it may do there ([`place`]): an object that owns
//!   nothing yet is placed by its namespace's binding (or the operator's own identity), and
//!   refused before any AWS call when it may not be; an object that owns a resource keeps
//!   the identity it was placed with (recorded in its status), so a later change of
//!   bindings never stops it being reconciled or cleaned up;
//! - a rule guards the step it is about: name prefixes when a resource is created or
//!   adopted, the adoption rule when one is adopted ([`Placement::create`],
//!   [`Placement::adopt`]);
//! - the shard of an object is the AWS account and region it acts in, so one replica
//!   speaks for each account ([`IdentityKey::shard`]).

pub mod accounts;
pub mod bindings;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::ResourceExt;

use crate::Error;
use crate::api::{AccountBinding, Adoption, PlacementStatus};

/// Who acts at AWS: a role assumed with the operator's credentials (or the operator's own
/// identity when `role_arn` is `None`), in a region. One SDK client exists per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey {
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub region: String,
}

/// The shard account of the operator's own identity: its account is not known without
/// asking STS, and every replica must name shards alike from the cluster's state alone.
pub const OWN_ACCOUNT: &str = "self";

impl IdentityKey {
    /// The operator's own identity in `region`.
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

    /// The shard this identity's work belongs to: the account its role lives in (or
    /// [`OWN_ACCOUNT`]) and its region. KVS quotas are per account and region, so one
    /// replica holding the shard is one rate limiter per account, however many bindings
    /// act there.
    pub fn shard(&self) -> String {
        let account = self
            .role_arn
            .as_deref()
            .and_then(role_account)
            .unwrap_or(OWN_ACCOUNT);
        format!("{account}-{}", self.region)
    }
}

/// The account a role ARN names (`arn:aws:iam::ACCOUNT:role/...`).
pub fn role_account(role_arn: &str) -> Option<&str> {
    let account = role_arn.split(':').nth(4)?;
    (!account.is_empty()).then_some(account)
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

/// The operator's rules for namespaces no binding selects, and its own region.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    /// Refuse objects in namespaces no binding selects (`--require-account-binding`).
    pub require_binding: bool,
    /// Whether objects there may adopt existing resources (`--unbound-adoption`).
    pub unbound_adoption: Adoption,
    /// The operator's own region.
    pub region: String,
}

/// What one object asks of tenancy.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub namespace: &'a str,
    /// The KVS name of its resource (binding prefixes apply to it).
    pub name: &'a str,
    /// `Some` when the object owns a resource: where it was placed, as its status records
    /// it (`None` inside for one made by an older operator that recorded nothing).
    pub owned: Option<Option<&'a PlacementStatus>>,
}

/// A step the placement does not allow, with why.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    NameNotPermitted(String),
    AdoptionNotPermitted(String),
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NameNotPermitted(message) => Error::NameNotPermitted(message),
            Refusal::AdoptionNotPermitted(message) => Error::AdoptionNotPermitted(message),
        }
    }
}

/// Where a permitted object acts, and which steps it may take there.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The binding whose identity it acts with; `None` for the operator's own identity.
    pub binding: Option<String>,
    pub identity: IdentityKey,
    /// Why creating its resource would be refused (a name outside the binding's prefixes).
    pub create: Option<Refusal>,
    /// Why adopting an existing resource would be refused.
    pub adopt: Option<Refusal>,
}

impl Placement {
    /// The shard the object belongs to.
    pub fn shard(&self) -> String {
        self.identity.shard()
    }
}

/// A placement, or the refusal made before any AWS call; either way the shard whose holder
/// reports it.
#[derive(Debug)]
pub struct Placed {
    pub shard: String,
    pub result: Result<Placement, Error>,
}

/// Places `request`, decided without calling AWS.
///
/// An object that owns nothing yet is placed by the binding governing its namespace and
/// refused now if that cannot be (no binding while one is required, several bindings, a
/// name outside the prefixes): creating or adopting is all it could do. An object that
/// owns a resource keeps the binding recorded with it as long as that binding exists,
/// whatever now selects its namespace; what it may still create or adopt follows that
/// binding's current rules, checked only at those steps.
pub fn place(
    bindings: &[&AccountBinding],
    governing: &Governing<'_>,
    request: Request<'_>,
    defaults: &Defaults,
) -> Placed {
    let placed = |result: Result<Placement, Error>, fallback: &str| Placed {
        shard: result
            .as_ref()
            .map_or_else(|_| fallback.to_string(), Placement::shard),
        result,
    };
    let own_shard = IdentityKey::own(&defaults.region).shard();
    if let Some(owned) = request.owned {
        let recorded = owned.map(|p| p.account_binding.as_deref());
        let result = match recorded {
            // The operator's own identity, where the resource lives.
            Some(None) => {
                let region = owned.map_or(defaults.region.as_str(), |p| p.region.as_str());
                Ok(by_operator(request, defaults, region))
            }
            Some(Some(name)) => match bindings.iter().find(|b| b.name_any() == name) {
                Some(binding) => Ok(by_binding(binding, request, defaults)),
                // Gone (its finalizer was forced): whatever governs the namespace now, if
                // it reaches the same account (checked once the identity is known).
                None => owned_by_governing(governing, request, defaults),
            },
            // Recorded by no one (an older operator): placed as the namespace is now.
            None => owned_by_governing(governing, request, defaults),
        };
        return placed(result, &own_shard);
    }
    let result = match governing {
        Governing::None if defaults.require_binding => Err(Error::NoAccountBinding(format!(
            "no AccountBinding selects namespace {}, and the operator requires one (--require-account-binding); ask a cluster admin to bind it",
            request.namespace
        ))),
        Governing::None => Ok(by_operator(request, defaults, &defaults.region)),
        Governing::Conflict(names) => Err(conflict(request.namespace, names)),
        Governing::One(binding) => {
            let placement = by_binding(binding, request, defaults);
            // Creating or adopting is all an object that owns nothing can do: a name
            // outside the prefixes is refused before any AWS call.
            match placement.create.clone() {
                Some(refusal) => Err(refusal.into()),
                None => Ok(placement),
            }
        }
    };
    let fallback = match governing {
        Governing::One(binding) => IdentityKey::of_binding(binding, &defaults.region).shard(),
        _ => own_shard,
    };
    placed(result, &fallback)
}

/// An owned object whose placement was not recorded, or whose binding is gone: placed by
/// the namespace's governing binding, or the operator's own identity when none governs it
/// (what it owns is reconciled even if a binding is now required).
fn owned_by_governing(
    governing: &Governing<'_>,
    request: Request<'_>,
    defaults: &Defaults,
) -> Result<Placement, Error> {
    match governing {
        Governing::None => Ok(by_operator(request, defaults, &defaults.region)),
        Governing::One(binding) => Ok(by_binding(binding, request, defaults)),
        Governing::Conflict(names) => Err(conflict(request.namespace, names)),
    }
}

fn conflict(namespace: &str, names: &[String]) -> Error {
    Error::AccountBindingConflict(format!(
        "namespace {namespace} is selected by several AccountBindings ({}); exactly one may select it",
        names.join(", ")
    ))
}

/// Acting with the operator's own identity in `region`.
fn by_operator(request: Request<'_>, defaults: &Defaults, region: &str) -> Placement {
    let adopt = (defaults.unbound_adoption == Adoption::Forbidden).then(|| {
        Refusal::AdoptionNotPermitted(format!(
            "no AccountBinding selects namespace {}, and the operator does not let such namespaces adopt existing resources (--unbound-adoption Forbidden, the default); ask a cluster admin for an AccountBinding that allows adoption, or remove spec.adoptExisting",
            request.namespace
        ))
    });
    Placement {
        binding: None,
        identity: IdentityKey::own(region),
        create: None,
        adopt,
    }
}

/// Acting with `binding`'s identity, under its current rules.
fn by_binding(binding: &AccountBinding, request: Request<'_>, defaults: &Defaults) -> Placement {
    let name = binding.name_any();
    let prefixes = &binding.spec.stream_name_prefixes;
    let create = (!prefixes.iter().any(|p| request.name.starts_with(p))).then(|| {
        Refusal::NameNotPermitted(format!(
            "name {} is not permitted by AccountBinding {name}: it must begin with {}",
            request.name,
            quoted_list(prefixes)
        ))
    });
    let adopt = match (&create, binding.spec.adoption) {
        (Some(refusal), _) => Some(refusal.clone()),
        (None, Adoption::Forbidden) => Some(Refusal::AdoptionNotPermitted(format!(
            "AccountBinding {name} forbids adopting existing resources (spec.adoption: Forbidden); remove spec.adoptExisting or ask a cluster admin"
        ))),
        (None, Adoption::Allowed) => None,
    };
    Placement {
        binding: Some(name),
        identity: IdentityKey::of_binding(binding, &defaults.region),
        create,
        adopt,
    }
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

    fn unowned<'a>(namespace: &'a str, name: &'a str) -> Request<'a> {
        Request {
            namespace,
            name,
            owned: None,
        }
    }

    fn defaults(require_binding: bool, unbound_adoption: Adoption) -> Defaults {
        Defaults {
            require_binding,
            unbound_adoption,
            region: "us-west-2".into(),
        }
    }

    fn lenient() -> Defaults {
        defaults(false, Adoption::Forbidden)
    }

    fn place_in(
        bindings: &[AccountBinding],
        namespace: &str,
        ns_labels: &BTreeMap<String, String>,
        request: Request<'_>,
        defaults: &Defaults,
    ) -> Placed {
        let all: Vec<&AccountBinding> = bindings.iter().collect();
        let governing = governing(bindings, namespace, ns_labels);
        place(&all, &governing, request, defaults)
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
    fn two_bindings_on_one_namespace_conflict_for_what_owns_nothing() {
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
        let placed = place_in(
            &bindings,
            "team-a",
            &labels(&[]),
            unowned("team-a", "a-cam"),
            &lenient(),
        );
        let error = placed.result.unwrap_err();
        assert_eq!(error.reason(), "AccountBindingConflict");
        assert!(
            error.to_string().contains("tenant-a, tenant-a-too"),
            "{error}"
        );

        // What an object already owns keeps the binding it was placed with.
        let recorded = PlacementStatus {
            account_binding: Some("tenant-a".into()),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let owned = Request {
            owned: Some(Some(&recorded)),
            ..unowned("team-a", "a-cam")
        };
        let placed = place_in(&bindings, "team-a", &labels(&[]), owned, &lenient());
        assert_eq!(placed.result.unwrap().binding.as_deref(), Some("tenant-a"));
    }

    #[test]
    fn a_bound_namespace_uses_the_bindings_identity_within_its_prefixes() {
        let bindings = [tenant_a()];
        let placed = place_in(
            &bindings,
            "team-a",
            &labels(&[]),
            unowned("team-a", "a-cam"),
            &lenient(),
        );
        assert_eq!(placed.shard, "111111111111-eu-west-1");
        let placement = placed.result.unwrap();
        assert_eq!(placement.binding.as_deref(), Some("tenant-a"));
        assert_eq!(
            placement.identity,
            IdentityKey {
                role_arn: Some("arn:aws:iam::111111111111:role/tenant-a".into()),
                external_id: None,
                region: "eu-west-1".into(),
            }
        );
        assert_eq!(placement.create, None);
        let refused = place_in(
            &bindings,
            "team-a",
            &labels(&[]),
            unowned("team-a", "b-cam"),
            &lenient(),
        );
        assert_eq!(
            refused.shard, "111111111111-eu-west-1",
            "reported by its shard"
        );
        let refused = refused.result.unwrap_err();
        assert_eq!(refused.reason(), "NameNotPermitted");
        assert!(
            refused.to_string().contains("\"a-\", \"shared-a-\""),
            "{refused}"
        );
    }

    #[test]
    fn prefixes_guard_only_creating_and_adopting_what_is_owned() {
        let bindings = [tenant_a()];
        let recorded = PlacementStatus {
            account_binding: Some("tenant-a".into()),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        // The admin narrowed the prefixes after b-cam was made: it is still reconciled,
        // and only re-creating or adopting it would be refused.
        let owned = Request {
            owned: Some(Some(&recorded)),
            ..unowned("team-a", "b-cam")
        };
        let placement = place_in(&bindings, "team-a", &labels(&[]), owned, &lenient())
            .result
            .unwrap();
        assert!(matches!(
            placement.create,
            Some(Refusal::NameNotPermitted(_))
        ));
        assert!(matches!(
            placement.adopt,
            Some(Refusal::NameNotPermitted(_))
        ));
    }

    #[test]
    fn adoption_is_refused_at_the_step_unless_the_binding_allows_it() {
        let forbidden = [tenant_a()];
        let placement = place_in(
            &forbidden,
            "team-a",
            &labels(&[]),
            unowned("team-a", "a-cam"),
            &lenient(),
        )
        .result
        .unwrap();
        assert_eq!(placement.create, None, "creating is still allowed");
        assert!(matches!(
            placement.adopt,
            Some(Refusal::AdoptionNotPermitted(_))
        ));

        let allowed = [by_label()];
        let ns = labels(&[("kvs", "cameras")]);
        let placed = place_in(&allowed, "site", &ns, unowned("site", "cam-1"), &lenient());
        assert_eq!(placed.shard, "self-us-west-2");
        let placement = placed.result.unwrap();
        assert_eq!(placement.adopt, None);
        assert_eq!(
            placement.identity,
            IdentityKey::own("us-west-2"),
            "no role: the operator's own identity, in its own region"
        );
    }

    #[test]
    fn an_unbound_namespace_may_create_but_adopts_only_when_the_operator_allows_it() {
        let placed = place_in(&[], "ns", &labels(&[]), unowned("ns", "any"), &lenient());
        let placement = placed.result.unwrap();
        assert_eq!(placement.binding, None);
        assert_eq!(placement.identity, IdentityKey::own("us-west-2"));
        assert_eq!(placement.create, None);
        let adopt = placement.adopt.expect("adoption refused by default");
        assert!(
            matches!(&adopt, Refusal::AdoptionNotPermitted(m) if m.contains("--unbound-adoption")),
            "{adopt:?}"
        );
        let allowed = defaults(false, Adoption::Allowed);
        let placement = place_in(&[], "ns", &labels(&[]), unowned("ns", "any"), &allowed)
            .result
            .unwrap();
        assert_eq!(placement.adopt, None);
    }

    #[test]
    fn a_required_binding_refuses_new_objects_but_not_what_they_own() {
        let strict = defaults(true, Adoption::Forbidden);
        let refused = place_in(&[], "ns", &labels(&[]), unowned("ns", "any"), &strict);
        assert_eq!(refused.result.unwrap_err().reason(), "NoAccountBinding");
        let recorded = PlacementStatus {
            account_binding: None,
            account: "123456789012".into(),
            region: "eu-central-1".into(),
        };
        let owned = Request {
            owned: Some(Some(&recorded)),
            ..unowned("ns", "any")
        };
        let placed = place_in(&[], "ns", &labels(&[]), owned, &strict);
        assert_eq!(placed.shard, "self-eu-central-1");
        assert_eq!(
            placed.result.unwrap().identity,
            IdentityKey::own("eu-central-1"),
            "the region it lives in"
        );
    }

    #[test]
    fn a_relabelled_namespace_keeps_the_binding_its_resources_were_placed_with() {
        let bindings = [tenant_a()];
        let recorded = PlacementStatus {
            account_binding: Some("tenant-a".into()),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let owned = Request {
            owned: Some(Some(&recorded)),
            ..unowned("team-z", "a-cam")
        };
        let placement = place_in(&bindings, "team-z", &labels(&[]), owned, &lenient())
            .result
            .unwrap();
        assert_eq!(placement.binding.as_deref(), Some("tenant-a"));
        // Without the binding any more: the namespace's current placement.
        let placement = place_in(&[], "team-z", &labels(&[]), owned, &lenient())
            .result
            .unwrap();
        assert_eq!(placement.binding, None);
    }

    #[test]
    fn shards_are_accounts_and_regions() {
        let role = |arn: &str| IdentityKey {
            role_arn: Some(arn.into()),
            external_id: None,
            region: "eu-west-1".into(),
        };
        assert_eq!(
            role("arn:aws:iam::111111111111:role/a").shard(),
            role("arn:aws:iam::111111111111:role/b").shard(),
            "two roles of one account share its quota, so its shard"
        );
        assert_ne!(
            role("arn:aws:iam::111111111111:role/a").shard(),
            role("arn:aws:iam::222222222222:role/a").shard()
        );
        assert_eq!(IdentityKey::own("us-east-1").shard(), "self-us-east-1");
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
