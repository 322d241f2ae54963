//! The web UI: one page at `GET /` and its static assets under `/assets/`,
//! plain HTML, CSS and JavaScript embedded in the binary (no build step,
//! nothing fetched from elsewhere), served under a strict Content Security
//! Policy. The page speaks only the JSON API; it holds no rule of its own.

#[cfg(test)]
mod catalog_tests;

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Scripts, styles, images and connections from this origin only; no inline
/// script or style, no framing, no plugins.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its path under `/assets/`, its media type, its bytes.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $media_type:literal) => {
        Asset {
            path: $path,
            media_type: $media_type,
            body: include_bytes!(concat!("assets/", $path)),
        }
    };
}

/// Every file under `/assets/`.
const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "text/javascript; charset=utf-8"),
    asset!("table.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
    asset!("dialogs.js", "text/javascript; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("i18n/en.json", "application/json"),
    asset!("i18n/fr.json", "application/json"),
];

/// The page itself.
const INDEX: &str = include_str!("assets/index.html");

/// The routes of the web UI: `GET /` and `GET /assets/{path}`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

fn secured(media_type: &'static str, body: &'static [u8]) -> Response {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // The assets change with the binary: always revalidate.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

async fn index() -> Response {
    secured("text/html; charset=utf-8", INDEX.as_bytes())
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => secured(a.media_type, a.body),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// The embedded files, for the catalog tests.
#[cfg(test)]
fn asset_text(path: &str) -> Option<&'static str> {
    if path == "index.html" {
        return Some(INDEX);
    }
    ASSETS
        .iter()
        .find(|a| a.path == path)
        .and_then(|a| std::str::from_utf8(a.body).ok())
}

#[cfg(test)]
fn asset_paths() -> impl Iterator<Item = &'static str> {
    std::iter::once("index.html").chain(ASSETS.iter().map(|a| a.path))
}
