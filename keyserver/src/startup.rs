//! Builds the application from [`Settings`] and binds it (port 0 in tests).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use tokio::sync::Notify;
use tracing_actix_web::TracingLogger;

use crate::audit_chain::key::AuditKeys;
use crate::auth::require_token;
use crate::configuration::{KmsKind, Settings};
use crate::db::{self, DbError, DbPool};
use crate::error::{ApiError, ErrorCode};
use crate::https::ReloadingCertificate;
use crate::key_pool;
use crate::keycache::KeyCache;
use crate::kms::aws::AwsKms;
use crate::kms::local::LocalKms;
use crate::kms::{KeyWrapper, KmsError};
use crate::metrics::Metrics;
use crate::pipeline::Pipelined;
use crate::routes::documents::{access, content, create, grants, list, rewrap, unwrap};
use crate::routes::{admin, health, keys, me, openapi};
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Database unreachable or migrations failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// KMS misconfigured.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// Could not bind the listening socket.
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    /// Metrics registry.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The local KMS master key is missing while the database needs it.
    #[error(transparent)]
    MasterKey(#[from] crate::master_key::MasterKeyError),
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The HTTPS certificate or key cannot be used.
    #[error(transparent)]
    Certificate(#[from] crate::https::CertificateError),
}

/// Builds the configured [`KeyWrapper`].
pub async fn build_kms(settings: &Settings) -> Result<Arc<dyn KeyWrapper>, KmsError> {
    Ok(match settings.kms {
        KmsKind::Local => Arc::new(LocalKms::open_or_create(&settings.kms_master_key_path())?),
        KmsKind::Aws => {
            let key_id = settings.kms_key_id.clone().ok_or_else(|| {
                KmsError::Config("kms = aws needs kms_key_id (PQFILE_KMS_KEY_ID)".into())
            })?;
            Arc::new(
                AwsKms::connect(
                    key_id,
                    settings.kms_region.clone(),
                    settings.kms_endpoint.clone(),
                )
                .await,
            )
        }
    })
}

/// Applies the migrations as the owner, then connects as the runtime role.
pub async fn prepare_database(settings: &Settings) -> Result<DbPool, DbError> {
    db::migrate(settings.owner_url()).await?;
    db::connect(&settings.database_url, settings.db_pool_max)
}

/// A bound, not yet running, key server.
pub struct Application {
    port: u16,
    https: bool,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Migrates, fills the pool (a KMS outage here is logged, not fatal:
    /// existing keys still serve new documents), binds and starts the
    /// background refill.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = prepare_database(&settings).await?;
        crate::master_key::ensure_present(&settings, &db).await?;
        let kms = build_kms(&settings).await?;
        let metrics = Metrics::new()?;
        match key_pool::fill(&db, kms.as_ref(), settings.pool_size, true).await {
            Ok(n) => metrics.keys_generated.inc_by(u64::from(n)),
            Err(e) => tracing::error!(error = %e, "could not fill the key pool at start-up"),
        }
        if let Ok(n) = key_pool::active_keys(&db).await {
            metrics.pool_active_keys.set(n);
        }
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?
            .port();
        let hot = Pipelined::new(
            db::pg_config(&settings.database_url)?,
            settings.db_pipelined,
        );
        let state = web::Data::new(AppState {
            db,
            hot,
            kms,
            cache: KeyCache::new(
                settings.key_cache_size,
                Duration::from_secs(settings.key_cache_ttl_secs),
            ),
            metrics,
            refill: Arc::new(Notify::new()),
            settings: settings.clone(),
            audit: AuditKeys::default(),
            trusted_proxies: crate::client_address::TrustedProxies::parse(
                &settings.trusted_proxies,
            )
            .map_err(StartupError::Config)?,
            rate_limits: crate::rate_limit::RateLimits::new(&settings),
            document_counts: crate::quota::DocumentCounts::default(),
        });
        state.rate_limits.spawn_janitor();
        // Without the audit key (KMS down) rows are written unsealed and
        // counted; the sealer keeps trying to load it.
        if let Err(e) = state.audit.load(&state.db, state.kms.as_ref()).await {
            tracing::error!(error = %e, "audit key unavailable: audit rows are written without seals until it loads");
        }
        spawn_refill(state.clone());
        spawn_maintenance(state.clone());
        crate::revocation::start_listener(state.clone()).await;
        crate::audit_chain::sealer::spawn(state.clone());
        spawn_key_cache_evictor(state.clone());
        let tls = match settings.https() {
            Some(files) => {
                let cert = ReloadingCertificate::load(files)?;
                cert.spawn_reloader(Duration::from_secs(settings.tls_reload_interval_secs));
                Some(cert.server_config()?)
            }
            None => None,
        };
        let https = tls.is_some();
        let server = run(listener, tls, state.clone(), &settings)
            .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?;
        Ok(Self {
            port,
            https,
            server,
            state,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The shared state (tests inspect the cache and metrics).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM (graceful) or the server is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Keeps the pool full: checks every `pool_refill_interval_secs`, or at once
/// when a request found it empty.
fn spawn_refill(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let every = Duration::from_secs(state.settings.pool_refill_interval_secs.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = state.refill.notified() => {}
            }
            match key_pool::fill(
                &state.db,
                state.kms.as_ref(),
                state.settings.pool_size,
                false,
            )
            .await
            {
                Ok(n) => state.metrics.keys_generated.inc_by(u64::from(n)),
                Err(e) => tracing::warn!(error = %e, "background pool refill failed"),
            }
            if let Ok(n) = key_pool::active_keys(&state.db).await {
                state.metrics.pool_active_keys.set(n);
            }
        }
    });
}

/// Runs maintenance (expiry, rotation, rotation progress, refill, access-log
/// retention) every `maintenance_interval_secs`. Several processes may do
/// this at once: each step is safe to run concurrently (see `lifecycle`).
fn spawn_maintenance(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let every = Duration::from_secs(state.settings.maintenance_interval_secs.max(1));
        loop {
            tokio::time::sleep(every).await;
            match state.maintenance().await {
                Ok(r) => tracing::info!(
                    expired = r.expired.len(),
                    queued = r.rotation.queued.len(),
                    completed = r.rotations.completed.len(),
                    generated = r.keys_generated,
                    access_logs_deleted = r.access_logs_deleted,
                    "maintenance"
                ),
                Err(e) => tracing::warn!(error = %e, "background maintenance failed"),
            }
        }
    });
}

fn run(
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    state: web::Data<AppState>,
    settings: &Settings,
) -> std::io::Result<Server> {
    let web_dir = settings.web_dir.clone();
    let serve_web = web_dir.is_dir();
    if !serve_web {
        tracing::warn!(dir = %web_dir.display(), "web directory not found; serving the API only");
    }
    let https = tls.is_some();
    let server = HttpServer::new(move || {
        let json = web::JsonConfig::default()
            .limit(64 * 1024)
            .content_type_required(false)
            .error_handler(|err, _req| match &err {
                actix_web::error::JsonPayloadError::Payload(p)
                    if crate::body_timeout::is_timeout(p) =>
                {
                    ApiError::new(ErrorCode::BodyTimeout).into()
                }
                _ => ApiError::new(ErrorCode::InvalidJson)
                    .message(format!(
                        "{}: {err}",
                        ErrorCode::InvalidJson.default_message()
                    ))
                    .into(),
            });
        let mut app = App::new()
            .wrap(from_fn(crate::body_timeout::limit_stalls))
            .wrap(security_headers(https))
            .wrap(TracingLogger::<crate::request_log::RequestSpan>::new())
            .app_data(state.clone())
            .app_data(json)
            .app_data(web::QueryConfig::default().error_handler(|err, _req| {
                ApiError::new(ErrorCode::InvalidQuery)
                    .message(format!(
                        "{}: {err}",
                        ErrorCode::InvalidQuery.default_message()
                    ))
                    .into()
            }))
            .service(
                web::scope("/v1")
                    .wrap(from_fn(require_token))
                    // Before the token is looked up.
                    .wrap(from_fn(crate::rate_limit::limit))
                    // Outside the token check and the limits, so 401s and
                    // 429s are audited too.
                    .wrap(from_fn(crate::request_audit::audit_requests))
                    .service(create::create_document)
                    .service(list::list_documents)
                    .service(access::access_history)
                    .service(unwrap::unwrap_document)
                    .service(rewrap::rewrap_document)
                    .service(grants::create_grant)
                    .service(grants::delete_grant)
                    .service(grants::list_grants)
                    .service(content::put_content)
                    .service(content::get_content)
                    .service(admin::keys::list_keys)
                    .service(admin::keys::revoke_key)
                    .service(admin::rotations::run_rotation)
                    .service(admin::rotations::list_rotations)
                    .service(admin::maintenance::run_maintenance)
                    .service(admin::stats::stats)
                    .service(admin::maintenance::retention)
                    .service(admin::access_logs::access_logs)
                    .service(admin::audit::verify_audit_log)
                    .service(keys::get_key)
                    .service(me::me)
                    .default_service(web::to(|| async {
                        Err::<HttpResponse, _>(ApiError::new(ErrorCode::NotFound))
                    })),
            )
            .service(health::healthz)
            .service(health::readyz)
            .service(health::metrics)
            .service(openapi::openapi_json);
        if serve_web {
            app = app.service(actix_files::Files::new("/", &web_dir).index_file("index.html"));
        }
        app
    });
    let mut server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    let workers = if settings.workers > 0 {
        settings.workers
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    server = server
        .workers(workers)
        // actix counts connections per worker.
        .max_connections(settings.max_connections.div_ceil(workers).max(1))
        .client_request_timeout(Duration::from_secs(
            settings.header_read_timeout_secs.max(1),
        ));
    Ok(server.run())
}

/// The page's Content-Security-Policy: its own scripts, styles, worker and
/// API only, nothing inline, the wasm compiled from its own origin
/// (`'wasm-unsafe-eval'`), the download iframe from its own origin, and no
/// framing by anyone.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; worker-src 'self'; frame-src 'self'; \
     manifest-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Headers on every answer (page, API and errors alike; a route that sets
/// one keeps its own); HSTS when the listener is HTTPS.
fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if https {
        headers.add(("Strict-Transport-Security", crate::https::HSTS))
    } else {
        headers
    }
}

/// Drops expired private keys from the key cache on a timer, for as long
/// as the process runs.
fn spawn_key_cache_evictor(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let every = state.cache.eviction_period();
        loop {
            tokio::time::sleep(every).await;
            let evicted = state.cache.evict_expired();
            if evicted > 0 {
                tracing::debug!(evicted, "expired keys dropped from the key cache");
            }
        }
    });
}
