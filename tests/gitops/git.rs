//! A git repository under the root the Argo CD's git daemon serves, edited and committed
//! the way a user does (no push: the daemon serves the repository itself).

use std::path::PathBuf;

use crate::argocd::ArgoCd;

pub struct Repo {
    dir: PathBuf,
    url: String,
}

impl Repo {
    /// A new repository `name` on branch main with a first commit (a README).
    pub async fn create(argocd: &ArgoCd<'_>, name: &str) -> Repo {
        let dir = argocd.git_root().join(name);
        std::fs::create_dir_all(&dir).expect("repository directory");
        let repo = Repo {
            dir,
            url: argocd.repo_url(name),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"])
            .await;
        repo.write("README.md", "VideoStreams, synced by Argo CD.\n");
        repo.commit("an empty repository").await;
        repo
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Writes `path` in the work tree (not committed yet).
    pub fn write(&self, path: &str, contents: &str) {
        std::fs::write(self.dir.join(path), contents).expect("write to the work tree");
    }

    /// Removes `path` from the work tree (not committed yet).
    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.dir.join(path)).expect("remove from the work tree");
    }

    /// Commits everything in the work tree; returns the commit's SHA.
    pub async fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]).await;
        self.git(&["commit", "--quiet", "--message", message]).await;
        self.git(&["rev-parse", "HEAD"]).await.trim().to_string()
    }

    async fn git(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .await
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
