//! `imms serve`: every component in one process, on one HTTP listener.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, HeaderName, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use imms_registry::credentials::VerifiedCache;
use imms_registry::http::Hl7Http;
use imms_registry::metrics::Metrics;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::config::Config;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
struct Ops {
    app: Arc<App>,
    metrics: Metrics,
    jwks: Arc<serde_json::Value>,
}

/// The parts `serve` mounts beside the registry and the identity provider.
pub struct Parts {
    pub issuer: Arc<imms_record::Issuer>,
    pub portal: Arc<imms_portal::Portal>,
}

/// Opens the identity provider, the record issuer, the portal and the console.
pub async fn open_parts(app: &App) -> anyhow::Result<Parts> {
    crate::cmd::account::init_served(app)?;
    let issuer = crate::cmd::record::open_issuer(&app.config)?;
    let portal = crate::cmd::portal::open_portal(app, issuer.clone()).await?;
    crate::cmd::staff::init_console(
        app,
        Arc::new(crate::cmd::portal::ConsolePrinter {
            issuer: issuer.clone(),
            codes: Arc::new(app.ingestor.codes().clone()),
        }),
    )
    .await?;
    Ok(Parts { issuer, portal })
}

pub fn router(app: Arc<App>, metrics: Metrics, parts: Parts) -> Router {
    let hl7 = Arc::new(Hl7Http {
        ingestor: app.ingestor.clone(),
        metrics: metrics.clone(),
        cache: VerifiedCache::default(),
    });
    let soap = Arc::new(imms_registry::soap::Soap {
        hl7: hl7.clone(),
        endpoint: format!("{}/hl7/soap", app.config.public_url.trim_end_matches('/')),
    });
    let app_for_idp = app.clone();
    crate::cmd::account::register_idp_metrics(&app_for_idp, &metrics.registry);
    let ops = Ops {
        app,
        metrics,
        jwks: Arc::new(parts.issuer.jwks()),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(ops)
        .merge(imms_registry::http::router(hl7))
        .merge(crate::cmd::account::idp_router(&app_for_idp))
        .merge(imms_registry::soap::router(soap))
        .merge(crate::cmd::staff::console_router())
        .merge(imms_portal::router(parts.portal))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                // Method, path and request id only: query strings may carry personal data.
                let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .layer(CatchPanicLayer::new())
}

/// The SMART Health Card issuer's public keys, which verifiers fetch from anywhere (CORS).
async fn jwks(State(ops): State<Ops>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        ops.jwks.to_string(),
    )
}

async fn healthz(State(ops): State<Ops>) -> impl IntoResponse {
    if ops.app.store().database().is_healthy().await {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    }
}

async fn metrics_text(State(ops): State<Ops>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ops.metrics.render(),
    )
}

pub async fn run(config: Config, demo: Option<usize>) -> anyhow::Result<std::process::ExitCode> {
    let app = Arc::new(App::open(config).await?);
    if let Some(persons) = demo {
        if app.store().counts().await?.persons == 0 {
            crate::cmd::demo::load(&app, persons, crate::cmd::demo::DEFAULT_SEED, true).await?;
        }
    }
    let listener = tokio::net::TcpListener::bind(&app.config.http_addr)
        .await
        .with_context(|| format!("listening on {}", app.config.http_addr))?;
    let addr = listener.local_addr()?;
    let parts = open_parts(&app).await?;
    let metrics = Metrics::default();
    let mllp_listener = tokio::net::TcpListener::bind(&app.config.mllp_addr)
        .await
        .with_context(|| format!("listening for MLLP on {}", app.config.mllp_addr))?;
    let mllp_addr = mllp_listener.local_addr()?;
    let mllp = Arc::new(imms_registry::mllp::Mllp {
        hl7: Arc::new(Hl7Http {
            ingestor: app.ingestor.clone(),
            metrics: metrics.clone(),
            cache: VerifiedCache::default(),
        }),
        limits: imms_registry::mllp::MllpLimits::default(),
    });
    tokio::spawn(imms_registry::mllp::serve(mllp_listener, mllp, shutdown()));
    tokio::spawn(fold_name_counts(app.clone()));
    tracing::info!(%addr, %mllp_addr, engine = app.store().database().engine().name(), "imms is serving");
    println!("imms MLLP listening at {mllp_addr}");
    println!("imms is running at http://{addr} (public URL {}): portal at /, console at /console, identity provider at /idp, HL7 v2 over HTTP at /hl7/v2, health at /healthz", app.config.public_url);
    let router = router(app.clone(), metrics, parts);
    // Peer addresses for the identity provider's rate limits.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown())
        .await?;
    app.store().database().close().await;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Keeps the matcher's name counts to one row per name on PostgreSQL (see
/// `match_keys::fold_name_counts`): at start-up, then every ten minutes.
async fn fold_name_counts(app: Arc<App>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(e) =
            imms_registry::store::match_keys::fold_name_counts(app.store().database()).await
        {
            tracing::warn!(error = %e, "folding name counts failed; will try again");
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
