//! The one place where HTTP status codes are decided: every failure is classified as a [`Fault`], and the fault
//! alone gives the status. Vendor bodies are rendered with that status so the status line and a body's `code`
//! always agree.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herd_amplitude::RejectionKind;
use herd_store::StoreError;

/// Who is at fault, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request is malformed or names something invalid.
    BadRequest,
    /// Missing or wrong credentials.
    Unauthorized,
    /// Nothing matches.
    NotFound,
    /// The body or the request is too large.
    PayloadTooLarge,
    /// The sender is over a rate limit.
    TooManyRequests,
    /// The server is shutting down or its writer stopped; safe to retry.
    Unavailable,
    /// A bug or a storage failure; may or may not have been applied.
    Internal,
}

impl Fault {
    pub fn status(self) -> StatusCode {
        match self {
            Fault::BadRequest => StatusCode::BAD_REQUEST,
            Fault::Unauthorized => StatusCode::UNAUTHORIZED,
            Fault::NotFound => StatusCode::NOT_FOUND,
            Fault::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Fault::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Fault::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<RejectionKind> for Fault {
    fn from(kind: RejectionKind) -> Fault {
        match kind {
            RejectionKind::BadRequest => Fault::BadRequest,
            RejectionKind::PayloadTooLarge => Fault::PayloadTooLarge,
        }
    }
}

/// A failed request, ready to be sent.
#[derive(Debug)]
pub struct ApiError {
    pub fault: Fault,
    body: Body,
    retry_after_secs: Option<u32>,
}

#[derive(Debug)]
enum Body {
    Json(serde_json::Value),
    Text(String),
}

impl ApiError {
    /// A JSON body built for the fault's status code.
    pub fn json(fault: Fault, build: impl FnOnce(u16) -> serde_json::Value) -> ApiError {
        ApiError { fault, body: Body::Json(build(fault.status().as_u16())), retry_after_secs: None }
    }

    /// A plain-text body (legacy upload, Identify API).
    pub fn text(fault: Fault, text: impl Into<String>) -> ApiError {
        ApiError { fault, body: Body::Text(text.into()), retry_after_secs: None }
    }

    /// Herd's own JSON error shape for its non-vendor APIs: `{"code", "error", "message"}`.
    pub fn herd(fault: Fault, error: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::json(fault, |code| serde_json::json!({"code": code, "error": error, "message": message}))
    }

    pub fn with_retry_after(mut self, secs: u32) -> ApiError {
        self.retry_after_secs = Some(secs);
        self
    }

    /// A storage failure: logged in full here, shown to the client only in general terms.
    pub fn store(e: StoreError) -> ApiError {
        let fault = match e {
            StoreError::WriterStopped => Fault::Unavailable,
            _ => Fault::Internal,
        };
        tracing::error!(error = %e, "store failure while handling a request");
        ApiError::json(
            fault,
            |code| serde_json::json!({"code": code, "error": "Internal error", "message": "the server could not store the request; retry it (duplicates are removed by insert_id)"}),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.fault.status();
        let mut response = match self.body {
            Body::Json(v) => (status, axum::Json(v)).into_response(),
            Body::Text(t) => (status, t).into_response(),
        };
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
