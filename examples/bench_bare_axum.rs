//! The baseline of the ingest benchmark (`bench/run`): the cheapest axum server that can answer
//! `POST /v1/events`. It reads the body (hyper must, to keep the connection alive) and parses
//! nothing, validates nothing, counts nothing. Built in the same run, with the same crates, the
//! same release profile and the same tokio runtime shape as the daemon, so the ratio of the
//! daemon's requests/s to this one's is the cost of ingesting, not of the machine.
//!
//! `cargo run --release --example bench_bare_axum -- 127.0.0.1:PORT`

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;

/// Answers like the daemon does for one accepted event, without looking at the body.
async fn sink(body: Bytes) -> impl IntoResponse {
    drop(body);
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, "application/json")], r#"{"accepted":1}"#)
}

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: bench_bare_axum 127.0.0.1:PORT");
        return ExitCode::from(2);
    };
    let addr: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_bare_axum: bad address {addr:?}: {e}");
            return ExitCode::from(2);
        }
    };
    // The daemon's runtime: multi-threaded, one worker per core.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench_bare_axum: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bench_bare_axum: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let app = Router::new().route("/v1/events", post(sink));
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench_bare_axum: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
