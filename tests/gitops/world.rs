//! One GitOps test's world: the e2e harness (a namespace, an emulator and an operator
//! watching that namespace), a git repository, and an Argo CD Application that syncs the
//! repository into the namespace.

use crate::argocd::{self, AppState, ArgoCd, Sync, application};
use crate::git::Repo;
use crate::support::Harness;

pub struct World {
    pub h: Harness,
    pub argocd: &'static ArgoCd<'static>,
    pub repo: Repo,
    /// The Application's name: the test namespace's.
    pub app: String,
}

impl World {
    /// The harness, a repository with only a README, and an Application on it that is
    /// Synced and Healthy (with nothing to manage yet).
    pub async fn start(prefix: &str, sync: Sync) -> World {
        let argocd = argocd::shared().await;
        let h = Harness::start(prefix).await;
        let app = h.namespace.clone();
        let repo = Repo::create(argocd, &app).await;
        let out = argocd
            .apply(&application(&app, &repo.url(), &h.namespace, sync))
            .await;
        assert!(out.success(), "Application {app}: {}", out.stderr);
        let world = World {
            h,
            argocd,
            repo,
            app,
        };
        world
            .wait_app("Synced to the first commit", |a| a.sync == "Synced")
            .await;
        world
    }

    /// Commits the work tree and asks Argo CD to look at it, as a git webhook would.
    pub async fn commit(&self, message: &str) -> String {
        let sha = self.repo.commit(message).await;
        self.argocd.refresh(&self.app).await;
        sha
    }

    pub async fn wait_app(&self, what: &str, check: impl Fn(&AppState) -> bool) -> AppState {
        self.argocd.wait_app(&self.app, what, check).await
    }

    pub async fn app(&self) -> AppState {
        self.argocd
            .app(&self.app)
            .await
            .expect("the Application exists")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- repo-server log (last lines) ---\n{}\n--- application-controller log (last lines) ---\n{}",
                self.argocd.log_tail("repo-server", 20),
                self.argocd.log_tail("application-controller", 40)
            );
        }
    }
}

/// A VideoStream manifest as a user commits it.
pub fn video_stream(name: &str, stream: &str, retention: u32) -> String {
    format!(
        "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: {name}\nspec:\n  streamName: {stream}\n  deviceName: cam-01\n  mediaType: video/h264\n  dataRetentionInHours: {retention}\n"
    )
}
