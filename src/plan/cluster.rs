//! What a plan reads from the cluster, once, through the kubeconfig: the AccountBindings
//! and the labels of the manifests' namespaces (what tenancy is decided from), the live
//! objects (transition rules such as immutability, and what a prune would delete), the
//! namespaces' deletion protection, and the cluster id (kube-system's UID, as `run`
//! defaults it). Only reads.
//!
//! Offline (`--offline`), nothing is read: no AccountBinding selects any namespace (so every
//! object is placed with the plan's own AWS identity and region, or refused with
//! `--require-account-binding`), no object exists yet, and the cluster id must be given.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::api::{AccountBinding, is_deletion_protected};
use crate::engine::kind::Kind;
use crate::{Error, Result};

/// The cluster as a plan sees it.
pub struct ClusterView {
    client: Option<Client>,
    pub bindings: Vec<AccountBinding>,
    /// The namespaces named by the manifests, as they are (`None`: not there yet).
    namespaces: BTreeMap<String, Option<Namespace>>,
    pub cluster_id: String,
}

impl ClusterView {
    /// Nothing read: see the module's doc.
    pub fn offline(cluster_id: String) -> Self {
        Self {
            client: None,
            bindings: Vec::new(),
            namespaces: BTreeMap::new(),
            cluster_id,
        }
    }

    /// Reads the bindings, the `namespaces` and (unless given) the cluster id.
    pub async fn read(
        client: Client,
        namespaces: &BTreeSet<String>,
        cluster_id: Option<String>,
    ) -> Result<Self> {
        let unreachable = |what: &str, e: kube::Error| {
            Error::Config(format!(
                "cannot read {what} from the cluster ({e}); plan with --offline to assume no AccountBinding and no existing objects"
            ))
        };
        let bindings = Api::<AccountBinding>::all(client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| unreachable("AccountBindings", e))?
            .items;
        let api: Api<Namespace> = Api::all(client.clone());
        let mut read = BTreeMap::new();
        for name in namespaces {
            let namespace = api
                .get_opt(name)
                .await
                .map_err(|e| unreachable(&format!("namespace {name}"), e))?;
            read.insert(name.clone(), namespace);
        }
        let cluster_id = match cluster_id {
            Some(id) => id,
            None => api
                .get("kube-system")
                .await
                .map_err(|e| {
                    unreachable(
                        "the kube-system namespace (the default cluster id; or pass --cluster-id)",
                        e,
                    )
                })?
                .uid()
                .ok_or_else(|| {
                    Error::Config("the kube-system namespace has no UID; pass --cluster-id".into())
                })?,
        };
        Ok(Self {
            client: Some(client),
            bindings,
            namespaces: read,
            cluster_id,
        })
    }

    pub fn is_offline(&self) -> bool {
        self.client.is_none()
    }

    /// The labels of `namespace` (none when it does not exist yet, or offline).
    pub fn labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(namespace)
            .and_then(Option::as_ref)
            .map(|ns| ns.labels().clone())
            .unwrap_or_default()
    }

    /// Whether `namespace` carries the deletion-protection annotation.
    pub fn namespace_protected(&self, namespace: &str) -> bool {
        self.namespaces
            .get(namespace)
            .and_then(Option::as_ref)
            .is_some_and(|ns| is_deletion_protected(&ns.metadata))
    }

    /// The live object `namespace/name` of kind `K`, if any.
    pub async fn live<K: Kind>(&self, namespace: &str, name: &str) -> Result<Option<K>> {
        let Some(client) = &self.client else {
            return Ok(None);
        };
        Ok(Api::<K>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await?)
    }

    /// The live objects of kind `K` in `namespace` that `selector` selects.
    pub async fn selected<K: Kind>(&self, namespace: &str, selector: &str) -> Result<Vec<K>> {
        let Some(client) = &self.client else {
            return Ok(Vec::new());
        };
        Ok(Api::<K>::namespaced(client.clone(), namespace)
            .list(&ListParams::default().labels(selector))
            .await?
            .items)
    }
}
