//! A receiver that answers every webhook at once with `204`, for `make bench-webhooks`:
//! `POST /hook` counts, `GET /count` says how many came. Usage: webhook_sink PORT

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{web, App, HttpResponse, HttpServer};

static RECEIVED: AtomicU64 = AtomicU64::new(0);

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: webhook_sink PORT");
    HttpServer::new(|| {
        App::new()
            .route(
                "/hook",
                web::post().to(|| async {
                    RECEIVED.fetch_add(1, Ordering::Relaxed);
                    HttpResponse::NoContent().finish()
                }),
            )
            .route(
                "/count",
                web::get().to(|| async {
                    HttpResponse::Ok().body(RECEIVED.load(Ordering::Relaxed).to_string())
                }),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
