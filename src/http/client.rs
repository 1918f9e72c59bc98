//! The client: one per server, holding its base URL, trust, timeouts, retry policy and the
//! credential it sends (an API key, or a session JWT before there is one).

use super::error::HttpError;
use super::mask::redact;
use super::request::{Body, Method, Request};
use super::retry::{classify, Attempt, RetryPolicy};
use crate::secret::Secret;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How to reach one server.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `https://portainer.lab.example:9443` (or `http://127.0.0.1:PORT` for the simulator).
    pub base_url: String,
    /// Where the URL's host is really connected to (an SSH port forward, the simulator): the
    /// URL keeps its name, so TLS still verifies the certificate against it.
    pub connect_to: Option<SocketAddr>,
    /// The base URL as the operator knows it, for messages, when `base_url` carries a tunnel's
    /// local port instead (`https://portainer.lab:9443`, not `…:40707`).
    pub shown_url: Option<String>,
    /// The lab root CA (PEM). Without it no HTTPS server is trusted.
    pub ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    /// For a whole call (connect, send, answer).
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientOptions {
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientOptions {
            base_url: base_url.into(),
            connect_to: None,
            shown_url: None,
            ca_pem: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

/// A server's answer: status and body (never logged).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Result<serde_json::Value, String> {
        if self.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| e.to_string())
    }
}

/// The credential sent with every request.
#[derive(Clone)]
enum Credential {
    ApiKey(Secret),
    Bearer(Secret),
}

pub struct Client {
    inner: reqwest::blocking::Client,
    base: String,
    /// The base URL in messages (see `ClientOptions::shown_url`).
    shown: String,
    retry: RetryPolicy,
    credential: Mutex<Option<Credential>>,
    /// `METHOD path → status` of every try, for tests and `PHOENIX_LOG=debug` (no bodies).
    log: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http::Client({})", self.base)
    }
}

impl Client {
    pub fn new(opts: &ClientOptions) -> Result<Client, HttpError> {
        let setup = |message: String| HttpError::Setup { url: opts.base_url.clone(), message };
        let url = reqwest::Url::parse(&opts.base_url).map_err(|e| setup(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(setup("the URL must be http:// or https:// with a host".into()));
        }
        if url.path() != "/" || url.query().is_some() {
            return Err(setup("give the server's base URL only (scheme, host, port)".into()));
        }
        // Always our own trust: the lab CA, or nothing at all (no system store, no "insecure").
        let tls = match &opts.ca_pem {
            Some(pem) => super::tls::trust_config(pem).map_err(|e| setup(e.to_string()))?,
            None => super::tls::empty_trust().map_err(|e| setup(e.to_string()))?,
        };
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            // A lab is reached directly (or through the run's SSH tunnel), never via a proxy
            // from the operator's environment, which would also see the credentials.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(tls);
        if let (Some(addr), Some(host)) = (opts.connect_to, url.host_str()) {
            builder = builder.resolve(host, addr);
        }
        let inner = builder.build().map_err(|e| setup(e.to_string()))?;
        Ok(Client {
            inner,
            base: opts.base_url.trim_end_matches('/').to_string(),
            shown: opts.shown_url.as_deref().unwrap_or(&opts.base_url).trim_end_matches('/').to_string(),
            retry: opts.retry,
            credential: Mutex::new(None),
            log: Mutex::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Send `X-API-Key: <key>` from now on.
    pub fn use_api_key(&self, key: Secret) {
        *lock(&self.credential) = Some(Credential::ApiKey(key));
    }

    /// Send `Authorization: Bearer <jwt>` from now on (until an API key replaces it).
    pub fn use_bearer(&self, jwt: Secret) {
        *lock(&self.credential) = Some(Credential::Bearer(jwt));
    }

    pub fn forget_credential(&self) {
        *lock(&self.credential) = None;
    }

    pub fn has_api_key(&self) -> bool {
        matches!(*lock(&self.credential), Some(Credential::ApiKey(_)))
    }

    /// Every try so far as `METHOD path → status` (or `→ error`).
    pub fn tries(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// Send a request, retrying per the policy; any final status is returned as an answer.
    pub fn send_raw(&self, req: &Request) -> Result<Response, HttpError> {
        self.send_tries(req, true)
    }

    /// `send_raw` for a look at a server that may not be there yet (a dry-run before the plan
    /// deploys it): a refused connection is the answer at once, not retried for seconds.
    /// Answers that prove a server (5xx, 429) are still retried.
    pub fn look_raw(&self, req: &Request) -> Result<Response, HttpError> {
        self.send_tries(req, false)
    }

    fn send_tries(&self, req: &Request, retry_connect: bool) -> Result<Response, HttpError> {
        let url = format!("{}{}", self.base, req.path);
        let credential = lock(&self.credential).clone();
        let mut secrets: Vec<&Secret> = match &req.body {
            Body::Json(v) => v.secrets(),
            _ => Vec::new(),
        };
        if let Some(Credential::ApiKey(s) | Credential::Bearer(s)) = &credential {
            secrets.push(s);
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let started = Instant::now();
            let result = self.once(req, &url, credential.as_ref());
            let ms = started.elapsed().as_millis();
            let attempt = match &result {
                Ok((resp, retry_after)) => {
                    self.note(format!("{} {} → {}", req.method, req.path, resp.status));
                    tracing::info!(target: "phoenix::http", "{} {} → {} ({ms} ms, try {tries})", req.method, req.path, resp.status);
                    Attempt::Status { code: resp.status, retry_after: *retry_after }
                }
                Err(e) => {
                    self.note(format!("{} {} → error", req.method, req.path));
                    tracing::info!(target: "phoenix::http", "{} {} → no answer ({ms} ms, try {tries})", req.method, req.path);
                    if e.is_connect() {
                        Attempt::ConnectFailed
                    } else {
                        Attempt::NoAnswer
                    }
                }
            };
            let give_up = !retry_connect && matches!(attempt, Attempt::ConnectFailed);
            match classify(&self.retry, attempt, req.method.is_read(), tries).filter(|_| !give_up) {
                Some(wait) => {
                    tracing::info!(target: "phoenix::http", "{} {}: retrying in {wait:?}", req.method, req.path);
                    std::thread::sleep(wait);
                }
                None => {
                    return match result {
                        Ok((resp, _)) => Ok(resp),
                        Err(e) => Err(HttpError::Transport {
                            method: req.method.as_str(),
                            url: format!("{}{}", self.shown, req.path),
                            message: redact(&transport_message(&e).replace(&self.base, &self.shown), &secrets),
                        }),
                    };
                }
            }
        }
    }

    /// Send a request; a final status outside 2xx is an error carrying the server's message
    /// (redirects are not followed: Portainer's 303 means "refused", not "look elsewhere").
    pub fn send(&self, req: &Request) -> Result<Response, HttpError> {
        let resp = self.send_raw(req)?;
        if !resp.ok() {
            let mut secrets: Vec<&Secret> = match &req.body {
                Body::Json(v) => v.secrets(),
                _ => Vec::new(),
            };
            let credential = lock(&self.credential).clone();
            if let Some(Credential::ApiKey(s) | Credential::Bearer(s)) = &credential {
                secrets.push(s);
            }
            return Err(HttpError::Status {
                method: req.method.as_str(),
                url: format!("{}{}", self.shown, req.path),
                status: resp.status,
                message: redact(&server_message(&resp), &secrets),
            });
        }
        Ok(resp)
    }

    fn note(&self, line: String) {
        lock(&self.log).push(line);
    }

    fn once(
        &self,
        req: &Request,
        url: &str,
        credential: Option<&Credential>,
    ) -> Result<(Response, Option<u64>), reqwest::Error> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut rb = self.inner.request(method, url);
        match credential {
            Some(Credential::ApiKey(k)) => rb = rb.header("X-API-Key", sensitive(k)),
            Some(Credential::Bearer(t)) => {
                rb = rb.header("Authorization", sensitive(&Secret::new(format!("Bearer {}", t.expose()))))
            }
            None => {}
        }
        rb = match &req.body {
            Body::Empty => rb,
            Body::Json(v) => rb.json(&v.expose()),
            Body::Multipart(fields) => {
                let mut form = reqwest::blocking::multipart::Form::new();
                for (k, v) in fields {
                    form = form.text(k.clone(), v.clone());
                }
                rb.multipart(form)
            }
        };
        let resp = rb.send()?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = resp.bytes()?.to_vec();
        Ok((Response { status, body }, retry_after))
    }
}

/// A header value marked sensitive (reqwest and hyper then keep it out of their debug output).
fn sensitive(s: &Secret) -> reqwest::header::HeaderValue {
    match reqwest::header::HeaderValue::from_str(s.expose()) {
        Ok(mut v) => {
            v.set_sensitive(true);
            v
        }
        // A key with a control character cannot be sent; an empty value fails with a 401.
        Err(_) => reqwest::header::HeaderValue::from_static(""),
    }
}

/// reqwest's error with its causes (the TLS or connect reason is in the chain).
fn transport_message(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Portainer's `{"message", "details"}` error, or the start of the body.
fn server_message(resp: &Response) -> String {
    if let Ok(serde_json::Value::Object(m)) = resp.json() {
        let message = m.get("message").and_then(|v| v.as_str()).unwrap_or("");
        let details = m.get("details").and_then(|v| v.as_str()).unwrap_or("");
        match (message.is_empty(), details.is_empty()) {
            (false, false) if message != details => return format!("{message} ({details})"),
            (false, _) => return message.to_string(),
            (true, false) => return details.to_string(),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(&resp.body);
    let text: String = text.trim().chars().take(200).collect();
    if text.is_empty() {
        "(no message)".to_string()
    } else {
        text
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
