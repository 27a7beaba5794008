//! The API's error answers: `{"type":"error","error":{"type","message"},"request_id"}` with the
//! `request-id` header, and the edge's HTML page that carries neither.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The body of a 502 from the edge: HTML, as a CDN sends it.
const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

/// The API's error answer; `error_code` goes in `error.details.error_code` when there is one.
pub(super) fn error_response(
    status: StatusCode,
    kind: &str,
    message: &str,
    error_code: Option<&str>,
    request_id: &str,
) -> Response {
    let mut body = json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id});
    if let Some(code) = error_code {
        body["error"]["details"] = json!({"error_code": code});
    }
    with_request_id(json_response(status, &body), request_id)
}

/// The edge's own error page (a 502 from the CDN): HTML, and no `request-id`.
pub(super) fn edge_page(status: StatusCode) -> Response {
    let mut response = (status, BAD_GATEWAY_HTML).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(super) fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("request-id", v);
    }
    response
}

/// An error the API would answer with, before it is given its request id.
pub(super) struct ApiFailure {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiFailure {
    pub(super) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiFailure { status, kind, message: message.into() }
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        ApiFailure::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub(super) fn respond(&self, request_id: &str) -> Response {
        error_response(self.status, self.kind, &self.message, None, request_id)
    }
}
