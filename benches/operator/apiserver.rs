//! The API server's own count of the requests it served (`apiserver_request_total` on its
//! `/metrics`, read through the kube client), so each phase can say how many writes it
//! cost the API server, by verb and resource.

use std::collections::BTreeMap;

use crate::BoxError;

/// Verbs that change something (server-side apply is reported as `APPLY`).
const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];

/// Requests served so far, by (verb, resource[/subresource], whether refused with 409
/// Conflict).
#[derive(Debug, Clone, Default)]
pub struct Requests(pub BTreeMap<(String, String, bool), f64>);

impl Requests {
    pub async fn read(client: &kube::Client) -> Result<Requests, BoxError> {
        let request = hyper::Request::get("/metrics").body(Vec::new())?;
        let text = client.request_text(request).await?;
        Ok(Requests::parse(&text))
    }

    /// Sums `apiserver_request_total` samples over the labels other than verb and resource.
    pub fn parse(text: &str) -> Requests {
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once('}') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let labels = parse_labels(labels);
            let get = |name: &str| labels.get(name).cloned().unwrap_or_default();
            let resource = match get("subresource").as_str() {
                "" => get("resource"),
                sub => format!("{}/{sub}", get("resource")),
            };
            let conflict = get("code") == "409";
            *counts
                .entry((get("verb"), resource, conflict))
                .or_insert(0.0) += value;
        }
        Requests(counts)
    }

    /// What was served between `earlier` and this reading.
    pub fn since(&self, earlier: &Requests) -> Requests {
        let mut delta = BTreeMap::new();
        for (key, now) in &self.0 {
            let then = earlier.0.get(key).copied().unwrap_or(0.0);
            if now - then > 0.0 {
                delta.insert(key.clone(), now - then);
            }
        }
        Requests(delta)
    }

    /// Write requests by resource, e.g. `videostreams/status` → 1000.
    pub fn writes_by_resource(&self) -> BTreeMap<String, u64> {
        self.writes_where(|_| true)
    }

    /// The write requests refused with 409 Conflict (a write against a version that is no
    /// longer the latest), by resource.
    pub fn conflicts_by_resource(&self) -> BTreeMap<String, u64> {
        self.writes_where(|conflict| conflict)
    }

    fn writes_where(&self, counted: impl Fn(bool) -> bool) -> BTreeMap<String, u64> {
        let mut writes = BTreeMap::new();
        for ((verb, resource, conflict), count) in &self.0 {
            if WRITE_VERBS.contains(&verb.as_str()) && counted(*conflict) {
                *writes.entry(resource.clone()).or_insert(0) += *count as u64;
            }
        }
        writes
    }
}

/// `a="x",b="y"` → {a: x, b: y}. Label values here never hold quotes or commas.
fn parse_labels(labels: &str) -> BTreeMap<String, String> {
    labels
        .split(',')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((
                name.trim().to_string(),
                value.trim().trim_matches('"').to_string(),
            ))
        })
        .collect()
}

/// `videostreams/status 1000, events 50` (largest first).
pub fn describe_writes(writes: &BTreeMap<String, u64>) -> String {
    if writes.is_empty() {
        return "none".into();
    }
    let mut sorted: Vec<(&String, &u64)> = writes.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    sorted
        .iter()
        .map(|(resource, count)| format!("{resource} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}
