//! One fetch of a source: conditional GET, bounded redirects, a deadline for
//! the whole exchange and a body cap counted after decompression.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, StatusCode, redirect};
use tokio::io::AsyncReadExt;
use url::Url;

use crate::config::RequestConfig;
pub use error::FetchError;
use error::{classify, redacted, refused_error, status_error};

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// A dead address should fail fast even when the whole-request deadline is long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a kept connection may wait for its host's next poll.
const IDLE_CONNECTION: Duration = Duration::from_secs(60);

/// The cache validators of a response, kept as the raw header bytes because
/// servers compare them byte for byte and some send non-ASCII.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<Vec<u8>>,
    pub last_modified: Option<Vec<u8>>,
}

impl Validators {
    fn from_headers(headers: &HeaderMap) -> Validators {
        let raw = |name: HeaderName| headers.get(name).map(|value| value.as_bytes().to_vec());
        Validators {
            etag: raw(header::ETAG),
            last_modified: raw(header::LAST_MODIFIED),
        }
    }

    /// A 304 may refresh either validator; one it leaves out stays as stored.
    fn refreshed_by(&self, fresh: Validators) -> Validators {
        Validators {
            etag: fresh.etag.or_else(|| self.etag.clone()),
            last_modified: fresh.last_modified.or_else(|| self.last_modified.clone()),
        }
    }
}

/// Feed types we ask for first; anything is accepted.
pub const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/// What JSON API sources are asked for as.
pub const JSON_ACCEPT: &str = "application/json, */*;q=0.5";

/// What pages (page sources and followed articles) are asked for as.
pub const PAGE_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";

/// What to fetch and within which limits.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    pub url: &'a Url,
    /// Validators from the previous successful fetch, echoed to the server.
    pub validators: &'a Validators,
    /// Deadline for the whole exchange: connect, redirects, headers and body.
    pub timeout: Duration,
    /// Largest body accepted, in bytes after decompression.
    pub max_body: u64,
    /// Value of the `Accept` header; left out when empty or invalid.
    pub accept: &'a str,
    /// Whether the connection may wait for another request to the same
    /// host. Only a conditional request's ever does: see [`request_headers`].
    pub keep_alive: bool,
    /// What the configuration adds: headers, sign-in, cookies, proxy.
    pub extras: Option<Extras<'a>>,
}

/// A source's request settings, and the host they belong to.
#[derive(Debug, Clone, Copy)]
pub struct Extras<'a> {
    pub config: &'a RequestConfig,
    /// Headers, sign-in and cookies go only to this URL's host and port,
    /// never to a redirect or a link that leads elsewhere.
    pub origin: &'a Url,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The server (or the file's metadata) says nothing changed.
    NotModified {
        validators: Validators,
        hints: Hints,
    },
    Fetched(Fetched),
}

/// What a response says beyond its body: where the source now lives and how
/// long the server asks clients to wait before asking again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// Set when every redirect hop was permanent (301/308): the new address.
    pub moved_to: Option<Url>,
    /// From `Cache-Control: max-age` or `Expires`.
    pub fresh_for: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    /// Where the body came from after redirects.
    pub final_url: Url,
    pub content_type: Option<String>,
    /// `Content-Location`, which relative links in the body resolve against.
    pub content_location: Option<String>,
    pub body: Vec<u8>,
    pub validators: Validators,
    pub hints: Hints,
}

impl Fetched {
    /// What relative links in the body resolve against: `Content-Location`
    /// when the server gave one, else where the body came from.
    pub fn base_url(&self) -> Url {
        self.content_location
            .as_deref()
            .and_then(|location| self.final_url.join(location.trim()).ok())
            .filter(|url| matches!(url.scheme(), "http" | "https" | "file"))
            .unwrap_or_else(|| self.final_url.clone())
    }
}

/// A shared HTTP client; cheap to clone, meant to live as long as the daemon.
#[derive(Clone)]
pub struct Fetcher {
    /// Proxied as the environment says (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
    client: reqwest::Client,
    /// For links taken from fetched content: public addresses only, no proxy.
    guarded: reqwest::Client,
    /// A client per configured proxy, built on first use and kept, so its
    /// connections are reused from poll to poll.
    proxied: Arc<Mutex<HashMap<Url, reqwest::Client>>>,
    agent: HeaderValue,
    pins: Arc<Vec<(String, std::net::SocketAddr)>>,
}

/// Says how many proxies are in use, never their addresses, which may hold a
/// password.
impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proxies = self.proxied.lock().map_or(0, |clients| clients.len());
        f.debug_struct("Fetcher")
            .field("agent", &self.agent)
            .field("proxies", &proxies)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub fn new(user_agent: &str) -> Result<Fetcher, FetchError> {
        Fetcher::with_pinned_hosts(user_agent, &[])
    }

    /// Like [`Fetcher::new`], with some host names resolved to fixed
    /// addresses instead of through DNS, as `curl --resolve` does. A pinned
    /// name is trusted as public; where it leads next is still checked.
    pub fn with_pinned_hosts(
        user_agent: &str,
        pins: &[(&str, std::net::SocketAddr)],
    ) -> Result<Fetcher, FetchError> {
        let agent = HeaderValue::from_str(user_agent)
            .map_err(|_| FetchError::InvalidUserAgent(user_agent.to_owned()))?;
        let pins: Vec<(String, std::net::SocketAddr)> =
            pins.iter().map(|(h, a)| (h.to_string(), *a)).collect();
        let client = build_client(&agent, Route::Environment, &pins)?;
        let guarded = build_client(&agent, Route::Guarded, &pins)?;
        Ok(Fetcher {
            client,
            guarded,
            proxied: Arc::default(),
            agent,
            pins: Arc::new(pins),
        })
    }

    /// The client for a request's proxy: the environment's when it names none.
    fn client_for(&self, req: &FetchRequest<'_>) -> Result<reqwest::Client, FetchError> {
        let Some(proxy) = req.extras.and_then(|e| e.config.proxy.as_ref()) else {
            return Ok(self.client.clone());
        };
        let mut clients = self
            .proxied
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(proxy) {
            return Ok(client.clone());
        }
        let client = build_client(&self.agent, Route::Proxy(proxy), &self.pins)?;
        clients.insert(proxy.clone(), client.clone());
        Ok(client)
    }

    pub async fn fetch(&self, req: &FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        let work = async {
            match req.url.scheme() {
                "http" | "https" => self.fetch_http(&self.client_for(req)?, false, req).await,
                "file" => fetch_file(req).await,
                _ => Err(FetchError::UnsupportedScheme {
                    url: redacted(req.url),
                }),
            }
        };
        within_deadline(req, work).await
    }

    /// Fetches a link found in fetched content (an item's article): only
    /// http and https, and, unless `allow_private`, only public addresses at
    /// every hop.
    pub async fn fetch_link(
        &self,
        req: &FetchRequest<'_>,
        allow_private: bool,
    ) -> Result<FetchOutcome, FetchError> {
        let work = async {
            match req.url.scheme() {
                "http" | "https" if allow_private => {
                    self.fetch_http(&self.client_for(req)?, false, req).await
                }
                "http" | "https" => self.fetch_http(&self.guarded, true, req).await,
                _ => Err(FetchError::UnsupportedScheme {
                    url: redacted(req.url),
                }),
            }
        };
        within_deadline(req, work).await
    }

    /// Follows redirects by hand so every hop can be checked and a chain of
    /// permanent ones can relink the source.
    async fn fetch_http(
        &self,
        client: &reqwest::Client,
        guard: bool,
        req: &FetchRequest<'_>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut url = req.url.clone();
        let mut visited = vec![url.clone()];
        let mut all_permanent = true;
        let sign_in = extras::authorization(req)?;
        let response = loop {
            if guard {
                guard::check_literal(&url).map_err(|refused| refused_error(&url, refused))?;
            }
            let mut headers = request_headers(req);
            extras::add(&mut headers, req, sign_in.as_ref(), &url);
            let response = client
                .get(url.clone())
                .timeout(req.timeout)
                .headers(headers)
                .send()
                .await
                .map_err(|err| classify(err, &url, req))?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let next = redirect_target(&response, &url)?;
            if visited.contains(&next) {
                return Err(FetchError::RedirectLoop {
                    url: redacted(&next),
                });
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects {
                    url: redacted(req.url),
                    max: MAX_REDIRECTS,
                });
            }
            all_permanent &= matches!(status.as_u16(), 301 | 308);
            visited.push(next.clone());
            url = next;
        };
        let hints = Hints {
            moved_to: (visited.len() > 1 && all_permanent).then(|| url.clone()),
            fresh_for: freshness(response.headers()),
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            let fresh = Validators::from_headers(response.headers());
            return Ok(FetchOutcome::NotModified {
                validators: req.validators.refreshed_by(fresh),
                hints,
            });
        }
        if !status.is_success() {
            return Err(status_error(&response));
        }
        let validators = Validators::from_headers(response.headers());
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let content_location = response
            .headers()
            .get(header::CONTENT_LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let final_url = response.url().clone();
        let body = read_capped(response, req).await?;
        Ok(FetchOutcome::Fetched(Fetched {
            status: status.as_u16(),
            final_url,
            content_type,
            content_location,
            body,
            validators,
            hints,
        }))
    }
}

/// reqwest's own deadline does not cover everything (a stalled body decoder,
/// a slow disk), so the whole fetch also runs under this one.
async fn within_deadline(
    req: &FetchRequest<'_>,
    work: impl Future<Output = Result<FetchOutcome, FetchError>>,
) -> Result<FetchOutcome, FetchError> {
    tokio::time::timeout(req.timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(FetchError::Timeout {
                url: redacted(req.url),
                after: req.timeout,
            })
        })
}

/// How a client reaches servers.
#[derive(Clone, Copy)]
enum Route<'a> {
    /// Through the proxy the environment names, if any: reqwest reads
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` unless told
    /// `no_proxy()`.
    Environment,
    /// Public addresses only, never through a proxy.
    Guarded,
    /// Through this proxy whatever the environment says.
    Proxy(&'a Url),
}

/// Built without a cookie store, so cookies are never kept. The guarded
/// client resolves through [`guard::PublicOnly`] and never uses a proxy,
/// which would connect on its behalf to addresses it never sees.
fn build_client(
    agent: &HeaderValue,
    route: Route<'_>,
    pins: &[(String, std::net::SocketAddr)],
) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(agent.clone())
        .redirect(redirect::Policy::none())
        .referer(false)
        .connect_timeout(CONNECT_TIMEOUT)
        // An idle connection keeps the buffer its last body grew, so one
        // is kept only after a request that asked for it: see
        // [`request_headers`].
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(IDLE_CONNECTION)
        .gzip(true)
        .brotli(true)
        .deflate(true);
    match route {
        Route::Environment => {}
        Route::Guarded => {
            builder = builder
                .dns_resolver(std::sync::Arc::new(guard::PublicOnly))
                .no_proxy();
        }
        Route::Proxy(proxy) => {
            let proxy = reqwest::Proxy::all(proxy.clone()).map_err(FetchError::Client)?;
            builder = builder.no_proxy().proxy(proxy);
        }
    }
    for (host, addr) in pins {
        builder = builder.resolve(host, *addr);
    }
    builder.build().map_err(FetchError::Client)
}

fn redirect_target(response: &Response, from: &Url) -> Result<Url, FetchError> {
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let bad = |location: String| FetchError::BadRedirect {
        url: redacted(from),
        location,
    };
    let Some(location) = location else {
        return Err(status_error(response));
    };
    match from.join(location.trim()) {
        Ok(next) if matches!(next.scheme(), "http" | "https") => Ok(next),
        _ => Err(bad(location)),
    }
}

/// How long the response says it stays fresh: `max-age` wins over `Expires`.
fn freshness(headers: &HeaderMap) -> Option<Duration> {
    let cache_control = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        });
    if let Some(seconds) = cache_control {
        return Some(Duration::from_secs(seconds));
    }
    let date = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
    };
    let expires = date(header::EXPIRES)?;
    let now = date(header::DATE).unwrap_or_else(std::time::SystemTime::now);
    expires.duration_since(now).ok()
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn request_headers(req: &FetchRequest<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let pairs = [
        (header::ACCEPT, Some(req.accept.as_bytes())),
        (header::IF_NONE_MATCH, req.validators.etag.as_deref()),
        (
            header::IF_MODIFIED_SINCE,
            req.validators.last_modified.as_deref(),
        ),
    ];
    for (name, raw) in pairs {
        let value = raw
            .filter(|raw| !raw.is_empty())
            .and_then(|raw| HeaderValue::from_bytes(raw).ok());
        if let Some(value) = value {
            headers.insert(name, value);
        }
    }
    // A conditional request is usually answered by a few hundred bytes (a
    // 304), so its connection is worth keeping for the host's next poll. A
    // request without validators fetches a whole document, whose size the
    // connection's buffer would keep while idle: that one is closed, as is
    // every connection the caller will not use again.
    let conditional = headers.contains_key(header::IF_NONE_MATCH)
        || headers.contains_key(header::IF_MODIFIED_SINCE);
    if !(req.keep_alive && conditional) {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    headers
}

/// Reads the (already decompressed) body chunk by chunk, stopping as soon as
/// it would pass the limit, so a compression bomb costs at most the limit.
async fn read_capped(
    mut response: Response,
    req: &FetchRequest<'_>,
) -> Result<Vec<u8>, FetchError> {
    let url = response.url().clone();
    let too_large = || FetchError::TooLarge {
        url: redacted(&url),
        limit: req.max_body,
    };
    // reqwest drops Content-Length when it decompresses, so a length here is
    // the true body size.
    let declared = response.content_length();
    if declared.is_some_and(|len| len > req.max_body) {
        return Err(too_large());
    }
    let capacity = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| classify(err, &url, req))?
    {
        if body.len() as u64 + chunk.len() as u64 > req.max_body {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn fetch_file(req: &FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
    let path = req
        .url
        .to_file_path()
        .map_err(|()| FetchError::NotAFilePath {
            url: redacted(req.url),
        })?;
    let io_error = |source: std::io::Error| FetchError::File {
        path: path.clone(),
        source,
    };
    let meta = tokio::fs::metadata(&path).await.map_err(io_error)?;
    let etag = file_etag(&meta);
    if req.validators.etag.as_deref() == Some(etag.as_slice()) {
        return Ok(FetchOutcome::NotModified {
            validators: req.validators.clone(),
            hints: Hints::default(),
        });
    }
    let too_large = || FetchError::TooLarge {
        url: redacted(req.url),
        limit: req.max_body,
    };
    if meta.len() > req.max_body {
        return Err(too_large());
    }
    let file = tokio::fs::File::open(&path).await.map_err(io_error)?;
    let mut body = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow between the metadata and the read.
    file.take(req.max_body.saturating_add(1))
        .read_to_end(&mut body)
        .await
        .map_err(io_error)?;
    if body.len() as u64 > req.max_body {
        return Err(too_large());
    }
    Ok(FetchOutcome::Fetched(Fetched {
        status: 200,
        final_url: req.url.clone(),
        content_type: None,
        content_location: None,
        body,
        validators: Validators {
            etag: Some(etag),
            last_modified: None,
        },
        hints: Hints::default(),
    }))
}

/// Modification time and size stand in for an ETag, so an unchanged file is
/// not even read.
fn file_etag(meta: &std::fs::Metadata) -> Vec<u8> {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    format!("\"{nanos}-{}\"", meta.len()).into_bytes()
}

mod error;
mod extras;
pub(crate) mod guard;
#[cfg(test)]
mod tests;
