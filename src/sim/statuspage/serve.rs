//! Serving the page: `/history.atom`, `/history.rss`, `/api/v2/summary.json` with validators
//! and 304s, `/redirect/{path}`, and every fault a page (or its CDN) produces.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::model::{ControlError, FaultKind, PageDocument, PageFault, StatusPage};
use super::render::{render_atom, render_rss, render_summary};
use crate::sim::body;

pub(super) async fn atom(State(page): State<StatusPage>, headers: HeaderMap) -> Response {
    serve(page, PageDocument::Atom, headers).await
}

pub(super) async fn rss(State(page): State<StatusPage>, headers: HeaderMap) -> Response {
    serve(page, PageDocument::Rss, headers).await
}

pub(super) async fn summary(State(page): State<StatusPage>, headers: HeaderMap) -> Response {
    serve(page, PageDocument::Summary, headers).await
}

pub(super) async fn redirect(Path(path): Path<String>) -> Response {
    let location = format!("/{}", path.trim_start_matches('/'));
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, v)]).into_response(),
        Err(_) => ControlError::bad("bad redirect path").into_response(),
    }
}

/// One rendered answer, taken under the lock.
struct Prepared {
    content_type: HeaderValue,
    body: Bytes,
    etag: Option<String>,
    last_modified: Option<DateTime<Utc>>,
    fault: Option<PageFault>,
}

async fn serve(page: StatusPage, resource: PageDocument, headers: HeaderMap) -> Response {
    let prepared = prepare(&page, resource, &headers);
    let Some(fault) = prepared.fault.clone() else { return answer(&page, prepared, &headers) };
    match fault.kind {
        FaultKind::Status => {
            let text = format!(
                "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>simulated</p></body></html>",
                fault.status
            );
            (fault.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], text).into_response()
        }
        FaultKind::Truncated => {
            let cut = prepared.body.len() / 2;
            ([(header::CONTENT_TYPE, prepared.content_type)], prepared.body.slice(..cut)).into_response()
        }
        FaultKind::Invalid => {
            let body: &'static str = if resource == PageDocument::Summary {
                "<html><body><h1>Service Unavailable</h1></body></html>"
            } else {
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>broken</entry></feed>"
            };
            ([(header::CONTENT_TYPE, prepared.content_type)], body).into_response()
        }
        FaultKind::Oversized => {
            // The page's own document padded to size (inside an XML comment, or JSON
            // whitespace) so that it would parse if read whole: only the size cap stops it.
            let full = prepared.body.clone();
            let split = full.iter().rposition(|b| *b == b'<' || *b == b'}').unwrap_or(full.len());
            let xml = full.get(split) == Some(&b'<');
            let (open, close): (&'static [u8], &'static [u8]) = if xml { (b"<!--", b"-->") } else { (b"", b"") };
            let padding = fault.bytes.saturating_sub(full.len());
            let (tx, body) = body::channel();
            tokio::spawn(async move {
                if !tx.send(full.slice(..split)).await || !tx.send(Bytes::from_static(open)).await {
                    return;
                }
                let chunk = Bytes::from(vec![b' '; 64 * 1024]);
                let mut sent = 0;
                while sent < padding {
                    let n = chunk.len().min(padding - sent);
                    if !tx.send(chunk.slice(..n)).await {
                        return; // The client stopped reading.
                    }
                    sent += n;
                }
                let _ = tx.send(Bytes::from_static(close)).await && tx.send(full.slice(split..)).await;
            });
            ([(header::CONTENT_TYPE, prepared.content_type)], Body::new(body)).into_response()
        }
        FaultKind::Slow => {
            tokio::time::sleep(fault.delay).await;
            answer(&page, prepared, &headers)
        }
        FaultKind::Stall => {
            let (tx, body) = body::channel();
            let full = prepared.body.clone();
            let delay = fault.delay;
            tokio::spawn(async move {
                let half = full.len() / 2;
                if tx.send(full.slice(..half)).await {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(full.slice(half..)).await;
                }
            });
            ([(header::CONTENT_TYPE, prepared.content_type)], Body::new(body)).into_response()
        }
        FaultKind::RedirectLoop => {
            let path = match resource {
                PageDocument::Atom => "/history.atom",
                PageDocument::Rss => "/history.rss",
                PageDocument::Summary => "/api/v2/summary.json",
            };
            (StatusCode::FOUND, [(header::LOCATION, path)]).into_response()
        }
    }
}

/// Renders the resource and takes the fault (if any) under one lock.
fn prepare(page: &StatusPage, resource: PageDocument, headers: &HeaderMap) -> Prepared {
    let mut p = page.lock();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let r = &mut p.requests;
    match resource {
        PageDocument::Atom | PageDocument::Rss => r.feed += 1,
        PageDocument::Summary => r.summary += 1,
    }
    r.last_user_agent = text(header::USER_AGENT);
    r.last_if_none_match = text(header::IF_NONE_MATCH);
    r.last_if_modified_since = text(header::IF_MODIFIED_SINCE);

    let fault = match &mut p.fault {
        Some(f) if f.target.covers(resource) => {
            let taken = f.clone();
            if let Some(n) = f.remaining.as_mut() {
                *n = n.saturating_sub(1);
            }
            Some(taken)
        }
        _ => None,
    };
    if p.fault.as_ref().is_some_and(|f| f.remaining == Some(0)) {
        p.fault = None;
    }
    if fault.is_some() {
        p.requests.faults += 1;
    }

    let host = text(header::HOST).unwrap_or_else(|| "127.0.0.1".to_owned());
    let base = format!("http://{host}");
    let (content_type, body) = match resource {
        PageDocument::Atom | PageDocument::Rss if p.raw_feed.is_some() => {
            let (ct, body) = p.raw_feed.clone().unwrap_or_default();
            (ct.unwrap_or(HeaderValue::from_static("application/xml")), body)
        }
        PageDocument::Summary if p.raw_summary.is_some() => {
            let (ct, body) = p.raw_summary.clone().unwrap_or_default();
            (ct.unwrap_or(HeaderValue::from_static("application/json")), body)
        }
        PageDocument::Atom => {
            (HeaderValue::from_static("application/atom+xml; charset=utf-8"), Bytes::from(render_atom(&p, &base)))
        }
        PageDocument::Rss => {
            (HeaderValue::from_static("application/rss+xml; charset=utf-8"), Bytes::from(render_rss(&p, &base)))
        }
        PageDocument::Summary => {
            (HeaderValue::from_static("application/json; charset=utf-8"), Bytes::from(render_summary(&p, &base)))
        }
    };
    let etag = p.send_etag.then(|| {
        let mut h = DefaultHasher::new();
        body.hash(&mut h);
        format!("\"{:016x}\"", h.finish())
    });
    let last_modified = p.send_last_modified.then_some(p.changed);
    Prepared { content_type, body, etag, last_modified, fault }
}

/// The normal answer: 304 when the request's validators match, else the body.
fn answer(page: &StatusPage, prepared: Prepared, headers: &HeaderMap) -> Response {
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let if_modified_since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok());
    // RFC 9110: If-None-Match, when present, decides; If-Modified-Since only without it.
    let not_modified = match (if_none_match, &prepared.etag) {
        (Some(inm), Some(etag)) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        (Some(_), None) => false,
        (None, _) => match (if_modified_since, prepared.last_modified) {
            (Some(since), Some(modified)) => modified <= since,
            _ => false,
        },
    };
    let mut validators = HeaderMap::new();
    if let Some(etag) = prepared.etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
        validators.insert(header::ETAG, etag);
    }
    if let Some(modified) = prepared.last_modified.and_then(|m| HeaderValue::from_str(&http_date(m)).ok()) {
        validators.insert(header::LAST_MODIFIED, modified);
    }
    if not_modified {
        page.lock().requests.not_modified += 1;
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    validators.insert(header::CONTENT_TYPE, prepared.content_type);
    (validators, prepared.body).into_response()
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
