//! RBAC rules flattened into single permissions, so that what the chart grants can be
//! compared with what the operator needs. Shared by tests/chart.rs (rendered templates) and
//! the node e2e test (the audit log).

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::PolicyRule;

/// (API group, resource[/subresource], verb, object name or "" for any).
pub type Permission = (String, String, String, String);

/// Every permission that `rules` grant. The chart grants no non-resource URLs.
pub fn permissions(rules: &[PolicyRule]) -> BTreeSet<Permission> {
    let mut out = BTreeSet::new();
    for rule in rules {
        assert!(rule.non_resource_urls.is_none(), "{rule:?}");
        let names = rule.resource_names.clone().unwrap_or_default();
        let names = if names.is_empty() {
            vec![String::new()]
        } else {
            names
        };
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    for name in &names {
                        out.insert((group.clone(), resource.clone(), verb.clone(), name.clone()));
                    }
                }
            }
        }
    }
    out
}
