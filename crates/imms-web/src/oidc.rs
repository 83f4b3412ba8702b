//! Signing in through any OpenID Connect provider: authorization code flow with PKCE (S256),
//! state and nonce, ID token checked against the provider's published keys (issuer, audience,
//! expiry, signature, nonce), and RP-initiated sign-out. Built on the `openidconnect` crate.
//!
//! The provider's metadata is fetched on first use (the built-in provider is served by the
//! same process, which is not yet listening at start-up) and fetched again once when a token
//! is signed with a key we have not seen (the provider rotated its keys).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use url::Url;

use crate::WebError;

/// Where and who we are at the provider.
#[derive(Clone, Debug)]
pub struct RelyingPartyConfig {
    /// The provider's issuer URL (discovery at ISSUER/.well-known/openid-configuration).
    pub issuer: String,
    pub client_id: String,
    /// None for a public client (PKCE only).
    pub client_secret: Option<String>,
    /// Our callback, registered at the provider.
    pub redirect_uri: String,
    /// Extra scopes beside `openid`.
    pub scopes: Vec<String>,
}

/// What a finished sign-in tells us about the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub subject: String,
    /// `preferred_username` when the provider sends it, else the subject.
    pub user_id: String,
    /// `acct_type` (citizen, employee, third-party, worker); empty when not sent.
    pub acct_type: String,
    /// The raw ID token, kept to name the session when signing out at the provider.
    pub id_token: String,
}

/// What must survive the round trip to the provider: seal it (see `seal`) into a cookie.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    state: String,
    nonce: String,
    pkce_verifier: String,
    /// Where to go after signing in (a path on our own site).
    pub return_to: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct LogoutMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_session_endpoint: Option<String>,
}
impl AdditionalProviderMetadata for LogoutMetadata {}

type Metadata = ProviderMetadata<
    LogoutMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct Provider {
    client: Client,
    end_session_endpoint: Option<Url>,
}

#[derive(Clone)]
pub struct RelyingParty {
    config: RelyingPartyConfig,
    http: openidconnect::reqwest::Client,
    provider: Arc<RwLock<Option<Arc<Provider>>>>,
}

impl RelyingParty {
    pub fn new(config: RelyingPartyConfig) -> Result<RelyingParty, WebError> {
        IssuerUrl::new(config.issuer.clone())
            .map_err(|e| WebError::Config(format!("issuer URL: {e}")))?;
        RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| WebError::Config(format!("redirect URI: {e}")))?;
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider response point us anywhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| WebError::Config(format!("HTTP client: {e}")))?;
        Ok(RelyingParty {
            config,
            http,
            provider: Arc::new(RwLock::new(None)),
        })
    }

    pub fn config(&self) -> &RelyingPartyConfig {
        &self.config
    }

    /// The provider's authorization URL to send the browser to, and what to keep until it
    /// comes back.
    pub async fn begin(&self, return_to: &str) -> Result<(Url, PendingLogin), WebError> {
        let provider = self.provider(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url,
            PendingLogin {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                return_to: safe_return_path(return_to),
            },
        ))
    }

    /// Finishes a sign-in from the callback's `code` and `state`: exchanges the code (with the
    /// PKCE verifier) and checks the ID token.
    pub async fn complete(
        &self,
        pending: &PendingLogin,
        code: &str,
        state: &str,
    ) -> Result<SignedIn, WebError> {
        if code.is_empty()
            || !bool::from(subtle::ConstantTimeEq::ct_eq(
                state.as_bytes(),
                pending.state.as_bytes(),
            ))
        {
            return Err(WebError::SignIn(
                "the sign-in response does not match this browser's sign-in".into(),
            ));
        }
        let provider = self.provider(false).await?;
        let token = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| WebError::Provider(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| WebError::Provider(format!("token request failed: {e}")))?;
        let id_token = openidconnect::TokenResponse::id_token(&token)
            .ok_or_else(|| WebError::Provider("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let subject = match id_token.claims(&provider.client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.subject().to_string(),
            Err(first) => {
                // Perhaps signed with a key published after we fetched the key set.
                let fresh = self.provider(true).await?;
                let verifier = fresh.client.id_token_verifier();
                let subject = id_token
                    .claims(&verifier, &nonce)
                    .map_err(|_| WebError::SignIn(format!("the ID token was refused: {first}")))?
                    .subject()
                    .to_string();
                subject
            }
        };
        let raw = id_token.to_string();
        // The signature is verified above; read the claims the core types do not model.
        let extra = payload_claims(&raw);
        let text = |key: &str| {
            extra
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let user_id = Some(text("preferred_username"))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| subject.clone());
        Ok(SignedIn {
            subject,
            user_id,
            acct_type: text("acct_type"),
            id_token: raw,
        })
    }

    /// Where to send the browser to end its session at the provider too (None when the
    /// provider offers no end-session endpoint or is not reachable).
    pub async fn logout_url(&self, id_token_hint: &str, post_logout_redirect: &str) -> Option<Url> {
        let provider = self.provider(false).await.ok()?;
        let mut url = provider.end_session_endpoint.clone()?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token_hint)
            .append_pair("client_id", &self.config.client_id)
            .append_pair("post_logout_redirect_uri", post_logout_redirect);
        Some(url)
    }

    async fn provider(&self, refresh: bool) -> Result<Arc<Provider>, WebError> {
        if !refresh {
            if let Some(p) = self.provider.read().await.as_ref() {
                return Ok(p.clone());
            }
        }
        let mut slot = self.provider.write().await;
        if let (false, Some(p)) = (refresh, slot.as_ref()) {
            return Ok(p.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| WebError::Config(format!("issuer URL: {e}")))?;
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| WebError::Provider(format!("discovery at {}: {e}", self.config.issuer)))?;
        let end_session_endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(
            RedirectUrl::new(self.config.redirect_uri.clone())
                .map_err(|e| WebError::Config(format!("redirect URI: {e}")))?,
        );
        let provider = Arc::new(Provider {
            client,
            end_session_endpoint,
        });
        *slot = Some(provider.clone());
        Ok(provider)
    }
}

fn payload_claims(jwt: &str) -> serde_json::Map<String, serde_json::Value> {
    jwt.split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Only a path on our own site: never `//host` or `https://…`, which would make the sign-in
/// an open redirect.
pub fn safe_return_path(path: &str) -> String {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control());
    if ok {
        path.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_site() {
        assert_eq!(safe_return_path("/upload"), "/upload");
        assert_eq!(safe_return_path("//evil.example/x"), "/");
        assert_eq!(safe_return_path("https://evil.example"), "/");
        assert_eq!(safe_return_path("/\\evil.example"), "/");
        assert_eq!(safe_return_path(""), "/");
    }
}
