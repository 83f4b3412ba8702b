//! The portal and the provider console as `serve` mounts them: the portal signs in at the
//! built-in identity provider over OpenID Connect (HTTP, like any relying party) unless
//! IMMS_OIDC_ISSUER names a state's own; both register themselves at the built-in provider
//! at every start (idempotent, safe on every node).

use std::sync::Arc;

use anyhow::Context;
use imms_portal::geo::CountryDb;
use imms_portal::{Portal, PortalSettings};
use imms_record::Issuer;
use imms_registry::store::PersonRecord;

use crate::app::App;

/// The portal, ready to mount at `/`.
pub async fn open_portal(app: &App, issuer: Arc<Issuer>) -> anyhow::Result<Arc<Portal>> {
    let config = &app.config;
    let public = config.public_url.trim_end_matches('/').to_string();
    let oidc = match &config.oidc_issuer {
        Some(external) => imms_web::RelyingPartyConfig {
            issuer: external.clone(),
            client_id: config
                .oidc_client_id
                .clone()
                .context("IMMS_OIDC_ISSUER needs IMMS_OIDC_CLIENT_ID")?,
            client_secret: config.oidc_client_secret.clone(),
            redirect_uri: format!("{public}{}", imms_portal::CALLBACK_PATH),
            scopes: vec!["profile".into()],
        },
        None => {
            let secret = imms_portal::builtin_client_secret(&config.data_dir)
                .context("the portal's OIDC client secret")?;
            let idp = crate::cmd::account::init_served(app)?;
            idp.ensure_client(
                imms_portal::BUILTIN_CLIENT_ID,
                &[format!("{public}{}", imms_portal::CALLBACK_PATH)],
                &[format!("{public}{}", imms_portal::SIGNED_OUT_PATH)],
                Some(&secret),
            )
            .await
            .map_err(|e| anyhow::anyhow!("registering the portal at the identity provider: {e}"))?;
            Portal::builtin_oidc(&public, secret)
        }
    };
    let settings = PortalSettings {
        public_url: public,
        data_dir: config.data_dir.clone(),
        helpline: config.helpline.clone(),
        blocked_countries: config.blocked_countries.clone(),
        geoip_db: CountryDb::locate(config.geoip_db.as_deref()),
        trusted_proxies: config.trusted_proxies.join(","),
        oidc,
        limits: imms_portal::limits::LimitConfig::default(),
        max_upload: 15 * 1024 * 1024,
        idle_minutes: 15,
    };
    let records = Arc::new(imms_portal::registry::RegistryRecords::new(
        app.ingestor.clone(),
        issuer,
    ));
    let portal = Portal::new(settings, app.store().database().clone(), records)
        .map_err(|e| anyhow::anyhow!("opening the portal: {e}"))?;
    Ok(Arc::new(portal))
}

/// The console prints the same official record as the portal.
pub struct ConsolePrinter {
    pub issuer: Arc<Issuer>,
    pub codes: Arc<imms_core::CodeTables>,
}

impl imms_console::RecordPrinter for ConsolePrinter {
    fn pdf(
        &self,
        record: &PersonRecord,
        facility_names: &std::collections::HashMap<String, String>,
    ) -> Result<Vec<u8>, String> {
        let input = imms_registry::record_input::to_record_input_with_facilities(
            record,
            &self.codes,
            facility_names,
        );
        let today = chrono::Local::now().date_naive();
        self.issuer
            .pdf(&input, imms_record::Lang::En, today)
            .map_err(|e| e.to_string())
    }
}
