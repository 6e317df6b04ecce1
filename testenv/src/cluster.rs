//! Cluster-level conveniences: namespaces per test and installing manifests.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::error::Result;
use crate::plane::ControlPlane;

/// Label on every namespace the harness creates.
pub const NAMESPACE_LABEL: &str = "kvs-testenv/test";

const CRD_PREFIX: &str = "customresourcedefinition.apiextensions.k8s.io/";

impl ControlPlane {
    /// Creates namespace `name`; fails if it exists. Nothing ever finishes
    /// deleting a namespace here (there is no namespace controller), so give
    /// every test its own.
    pub async fn create_namespace(&self, name: &str) -> Result<()> {
        let namespaces: Api<Namespace> = Api::all(self.kube_client().await?);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(BTreeMap::from([(
                    NAMESPACE_LABEL.to_string(),
                    "true".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(())
    }

    /// Creates and returns a fresh namespace `<prefix>-<n>`, unique in this process.
    pub async fn unique_namespace(&self, prefix: &str) -> Result<String> {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let name = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.create_namespace(&name).await?;
        Ok(name)
    }

    /// `kubectl apply -f <path>` (a file or the manifests directly in a
    /// directory), then waits until every CustomResourceDefinition applied is
    /// Established, so its kind can be used at once. Returns the objects as
    /// `kubectl -o name` prints them.
    pub async fn apply_dir(&self, path: impl AsRef<Path>) -> Result<Vec<String>> {
        let path = path.as_ref().as_os_str();
        let args = ["apply", "-f"].map(OsStr::new).into_iter();
        let args = args.chain([path, OsStr::new("-o"), OsStr::new("name")]);
        let applied = self.kubectl(args).await?.check()?;
        let names: Vec<String> = applied.stdout.lines().map(str::to_string).collect();
        let crds: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| n.starts_with(CRD_PREFIX))
            .collect();
        if !crds.is_empty() {
            let mut args = vec!["wait", "--for=condition=Established", "--timeout=60s"];
            args.extend(crds);
            self.kubectl(args).await?.check()?;
        }
        Ok(names)
    }
}
