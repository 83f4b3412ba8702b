//! OpenID Connect: discovery, JWKS, authorization (code flow, PKCE S256), token,
//! userinfo and RP-initiated logout; clients registered by `imms oidc client add`.

use zeroize::Zeroizing;

use crate::accounts::{random_token, token_hash, IdpError};
use crate::store::Client;
use crate::Idp;

impl Idp {
    /// Registers a client; returns its secret unless it is public.
    pub async fn add_client(
        &self,
        client_id: &str,
        redirect_uris: &[String],
        public: bool,
    ) -> Result<Option<Zeroizing<String>>, IdpError> {
        let client_id = client_id.trim();
        if client_id.is_empty()
            || client_id.len() > 200
            || client_id.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err(IdpError::InvalidClient(
                "the client ID must be 1 to 200 characters without spaces",
            ));
        }
        for uri in redirect_uris {
            let u = url::Url::parse(uri)
                .map_err(|_| IdpError::InvalidClient("a redirect URI is not an absolute URL"))?;
            if u.fragment().is_some() {
                return Err(IdpError::InvalidClient(
                    "a redirect URI must not have a fragment",
                ));
            }
            let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
                return Err(IdpError::InvalidClient(
                    "redirect URIs must be https (or http on loopback)",
                ));
            }
        }
        let secret = (!public).then(|| Zeroizing::new(random_token()));
        self.store
            .add_client(
                &Client {
                    client_id: client_id.to_string(),
                    secret_hash: secret.as_ref().map(|s| token_hash(s)),
                    redirect_uris: redirect_uris.to_vec(),
                    public,
                },
                self.now(),
            )
            .await?;
        tracing::info!(client_id, public, "OIDC client registered");
        Ok(secret)
    }
}
