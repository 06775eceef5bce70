//! Whole `pqfile-keyserver serve` processes on one database.

use super::*;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts three `pqfile-keyserver serve` processes at once on one database
/// (local KMS, 2 workers each; running as [`APP_ROLE`], migrating as the
/// owner `database_url`), plus `extra_env`, and waits until all are
/// ready. The processes die with the returned handles.
pub async fn spawn_three_processes(
    database_url: &str,
    data_dir: &std::path::Path,
    pool_size: u32,
    extra_env: &[(&str, &str)],
) -> (Vec<tokio::process::Child>, [u16; 3]) {
    spawn_three_processes_trusting(database_url, data_dir, pool_size, extra_env, None).await
}

/// As [`spawn_three_processes`]; with `https_ca`, the processes serve
/// HTTPS (`extra_env` names the certificate) and readiness is checked over
/// it, trusting that CA.
pub async fn spawn_three_processes_trusting(
    database_url: &str,
    data_dir: &std::path::Path,
    pool_size: u32,
    extra_env: &[(&str, &str)],
    https_ca: Option<reqwest::Certificate>,
) -> (Vec<tokio::process::Child>, [u16; 3]) {
    let ports = [free_port(), free_port(), free_port()];
    ensure_app_role().await;
    let children = ports
        .iter()
        .map(|port| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_pqfile-keyserver"))
                .arg("serve")
                .env("PQFILE_DATABASE_URL", as_app_role(database_url))
                .env("PQFILE_OWNER_DATABASE_URL", database_url)
                .env("PQFILE_DATA_DIR", data_dir)
                .env("PQFILE_BIND", format!("127.0.0.1:{port}"))
                .env("PQFILE_POOL_SIZE", pool_size.to_string())
                .env("PQFILE_KMS", "local")
                .env("PQFILE_WEB_DIR", "/nonexistent")
                .env("PQFILE_WORKERS", "2")
                .env("RUST_LOG", "warn")
                // Several processes hammered from one address by a test.
                .env("PQFILE_RATE_LIMIT_PER_ADDRESS", "0")
                .env("PQFILE_RATE_LIMIT_PER_TOKEN", "0")
                .envs(extra_env.iter().copied())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn pqfile-keyserver")
        })
        .collect();
    let base = if https_ca.is_some() {
        "https://localhost"
    } else {
        "http://127.0.0.1"
    };
    let http = https_ca
        .into_iter()
        .fold(reqwest::Client::builder(), |b, ca| {
            b.add_root_certificate(ca)
        })
        .build()
        .expect("http client");
    for port in ports {
        wait_ready(&http, base, port).await;
    }
    (children, ports)
}

async fn wait_ready(http: &reqwest::Client, base: &str, port: u16) {
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}:{port}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} never became ready");
}
