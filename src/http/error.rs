//! What can go wrong with an HTTP call, with the request it was (method and path, never a body).

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{method} {url}: {message}")]
    Transport { method: &'static str, url: String, message: String },
    /// The server answered with an error status; `message` is Portainer's `message` (and
    /// `details`) when the body has them, else the start of the body.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Status { method: &'static str, url: String, status: u16, message: String },
    #[error("{url}: {message}")]
    Setup { url: String, message: String },
    #[error("{method} {url}: the answer is not the JSON expected: {message}")]
    Decode { method: &'static str, url: String, message: String },
}

impl HttpError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
