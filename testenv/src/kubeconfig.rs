//! Kubeconfig files for the admin identity and for impersonated users.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Everything a kubeconfig needs to reach the apiserver as admin.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) server: String,
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

// Keeps PEM blobs out of `{:?}` of a ControlPlane.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Who the admin certificate acts as; `None` for admin itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Impersonation {
    pub(crate) user: String,
    pub(crate) groups: Vec<String>,
}

/// A self-contained YAML kubeconfig (certificates inline), readable by kubectl,
/// helm and kube-rs alike.
pub(crate) fn render(creds: &Credentials, impersonate: Option<&Impersonation>) -> String {
    let b64 = |pem: &str| STANDARD.encode(pem);
    // JSON strings are valid YAML scalars, which settles all quoting.
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let mut user = format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&creds.cert_pem),
        b64(&creds.key_pem)
    );
    let mut user_name = "admin".to_string();
    if let Some(who) = impersonate {
        user.push_str(&format!("    as: {}\n", quote(&who.user)));
        if !who.groups.is_empty() {
            let groups: Vec<String> = who.groups.iter().map(|g| quote(g)).collect();
            user.push_str(&format!("    as-groups: [{}]\n", groups.join(", ")));
        }
        user_name = who.user.clone();
    }
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kvs-testenv
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user_name}
  user:
{user}contexts:
- name: kvs-testenv
  context:
    cluster: kvs-testenv
    user: {user_name}
current-context: kvs-testenv
",
        server = quote(&creds.server),
        ca = b64(&creds.ca_pem),
        user_name = quote(&user_name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            server: "https://127.0.0.1:6443".into(),
            ca_pem: "ca".into(),
            cert_pem: "cert".into(),
            key_pem: "key".into(),
        }
    }

    #[test]
    fn admin_kubeconfig_parses() {
        let parsed = kube::config::Kubeconfig::from_yaml(&render(&creds(), None)).unwrap();
        assert_eq!(parsed.current_context.as_deref(), Some("kvs-testenv"));
        let auth = parsed.auth_infos[0].auth_info.as_ref().unwrap();
        assert!(auth.impersonate.is_none());
        assert_eq!(
            auth.client_certificate_data.as_deref(),
            Some(STANDARD.encode("cert").as_str())
        );
    }

    #[test]
    fn impersonation_is_quoted_and_parsed() {
        let who = Impersonation {
            user: "system:serviceaccount:ns:robot".into(),
            groups: vec!["a: b".into(), "system:authenticated".into()],
        };
        let parsed = kube::config::Kubeconfig::from_yaml(&render(&creds(), Some(&who))).unwrap();
        let auth = parsed.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(auth.impersonate.as_deref(), Some(who.user.as_str()));
        assert_eq!(auth.impersonate_groups.as_ref(), Some(&who.groups));
    }
}
