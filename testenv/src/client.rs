//! kube-rs clients and kubeconfigs for the admin and for impersonated users.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Result};
use crate::kubeconfig::{self, Impersonation};
use crate::plane::ControlPlane;

/// A client from kubeconfig YAML, after `adjust` tweaks its config. It is bound
/// to the calling tokio runtime, so the harness never caches one.
pub(crate) async fn client_from_kubeconfig(
    yaml: &str,
    adjust: impl FnOnce(&mut kube::Config),
) -> Result<kube::Client> {
    // kube picks rustls' process-wide provider; make sure there is one even
    // when several providers are compiled in.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kubeconfig = Kubeconfig::from_yaml(yaml)?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    adjust(&mut config);
    Ok(kube::Client::try_from(config)?)
}

impl ControlPlane {
    /// A client acting as the admin (`system:masters`). Create one per test:
    /// it lives on the runtime that created it.
    pub async fn kube_client(&self) -> Result<kube::Client> {
        client_from_kubeconfig(self.admin_kubeconfig(), |_| {}).await
    }

    /// A client that impersonates `user` (with `groups`, which may be empty),
    /// so that RBAC decides as it would for that user.
    pub async fn kube_client_as(&self, user: &str, groups: &[&str]) -> Result<kube::Client> {
        client_from_kubeconfig(&self.impersonating_kubeconfig(user, groups), |_| {}).await
    }

    /// Writes a kubeconfig that impersonates `user` (`as:` / `as-groups:`) and
    /// returns its path, e.g. to run the operator under a ServiceAccount's RBAC.
    pub fn kubeconfig_as(&self, user: &str, groups: &[&str]) -> Result<PathBuf> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = self.dir().join(format!(
            "kubeconfig-as-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, self.impersonating_kubeconfig(user, groups))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    /// [`ControlPlane::kubeconfig_as`] for `system:serviceaccount:<namespace>:<name>`;
    /// the apiserver adds the ServiceAccount groups itself.
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> Result<PathBuf> {
        self.kubeconfig_as(&service_account_user(namespace, name), &[])
    }

    fn impersonating_kubeconfig(&self, user: &str, groups: &[&str]) -> String {
        let who = Impersonation {
            user: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        kubeconfig::render(self.credentials(), Some(&who))
    }
}

/// The user name Kubernetes gives a ServiceAccount.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}
