//! Followed articles: for a feed with `follow_links = true`, each item's own
//! link is fetched (conditionally, within the per-host limits, through the
//! guard on private addresses) and its article text becomes the item's
//! `article` field, so a quiet edit to a published story is caught even when
//! the feed never changes.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::warn;
use url::Url;

use crate::config::SourceConfig;
use crate::error::error_chain;
use crate::fetch::{self, FetchOutcome, FetchRequest, Fetcher, Validators};
use crate::polite::{self, Limits};
use crate::source::page;
use crate::store::{ArticleState, ArticleWrite};
use crate::text;

/// Articles fetched in one poll at most, the newest items first.
pub const MAX_PER_POLL: usize = 50;

/// Following stops for this poll once it has taken this long; the articles
/// left are read on a later poll, so one slow site cannot hold a source's
/// polls up for long.
pub const BUDGET: Duration = Duration::from_secs(180);

/// Everything following needs, borrowed from the poll.
pub struct Following<'a> {
    pub fetcher: &'a Fetcher,
    /// `None` where nothing else runs at the same time (`test`).
    pub limits: Option<&'a Limits>,
    pub source: &'a SourceConfig,
    pub allow_private_links: bool,
}

/// What one round of following found.
#[derive(Debug, Default)]
pub struct Followed {
    /// Article text read this time, `ignore` patterns removed, by item key.
    /// Items missing here keep the article they had (not modified, not due,
    /// or failed).
    pub texts: HashMap<String, String>,
    pub writes: Vec<ArticleWrite>,
    /// Items whose article could not be read, with why.
    pub errors: Vec<(String, String)>,
}

impl Followed {
    /// One line for `sources`: the first article that could not be read, and
    /// how many more.
    pub fn warning(&self) -> Option<String> {
        let (key, error) = self.errors.first()?;
        let more = match self.errors.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        Some(format!("article of {key} not read: {error}{more}"))
    }
}

/// One item to follow: its key and its own link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub key: String,
    pub link: String,
}

/// The items whose articles are due: in the order given, with a link, first
/// seen within `follow_for` (new items count as seen now), at most
/// [`MAX_PER_POLL`].
pub fn due<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a str)>,
    states: &HashMap<String, ArticleState>,
    follow_for: Duration,
    now: DateTime<Utc>,
) -> Vec<Wanted> {
    let window = chrono::Duration::from_std(follow_for).unwrap_or(chrono::Duration::MAX);
    items
        .into_iter()
        .filter(|(_, link)| !link.trim().is_empty())
        .filter(|(key, _)| {
            let first_seen = states
                .get(*key)
                .and_then(|s| DateTime::parse_from_rfc3339(&s.first_seen).ok())
                .map_or(now, |t| t.with_timezone(&Utc));
            now.signed_duration_since(first_seen) <= window
        })
        .take(MAX_PER_POLL)
        .map(|(key, link)| Wanted {
            key: key.to_string(),
            link: link.trim().to_string(),
        })
        .collect()
}

impl Following<'_> {
    /// Fetches each wanted article in turn; one failure is that item's error
    /// and never stops the others.
    pub async fn follow(
        &self,
        wanted: Vec<Wanted>,
        states: &HashMap<String, ArticleState>,
    ) -> Followed {
        let mut out = Followed::default();
        let started = std::time::Instant::now();
        // Hosts that answered 429 in this round: asked for nothing more.
        let mut throttled: Vec<String> = Vec::new();
        let mut waiting = 0;
        for item in wanted {
            if started.elapsed() > BUDGET {
                tracing::info!(
                    "following stopped after {}; the other articles wait for the next poll",
                    humantime::format_duration(BUDGET)
                );
                break;
            }
            if throttled.contains(&host_of(&item.link)) {
                waiting += 1;
                continue;
            }
            let stored = states
                .get(&item.key)
                .filter(|s| s.url.as_deref() == Some(item.link.as_str()))
                .map(|s| s.validators.clone())
                .unwrap_or_default();
            let (write, text) = match self.read(&item.link, &stored).await {
                Ok((validators, text)) => (Some(validators), text),
                Err(_) if self.limits.is_some_and(Limits::is_stopped) => {
                    tracing::info!("stopping: the other articles wait for the next poll");
                    break;
                }
                Err(Unread {
                    error,
                    throttled: asked_to_wait,
                }) => {
                    warn!(item = %item.key, link = %item.link, "article not read: {error}");
                    if asked_to_wait {
                        throttled.push(host_of(&item.link));
                    }
                    out.errors.push((item.key.clone(), error.clone()));
                    out.writes.push(ArticleWrite {
                        key: item.key,
                        url: item.link,
                        validators: None,
                        error: Some(error),
                    });
                    continue;
                }
            };
            if let Some(text) = text {
                let text = text::apply_ignore(&text, &self.source.ignore);
                out.texts.insert(item.key.clone(), text);
            }
            out.writes.push(ArticleWrite {
                key: item.key,
                url: item.link,
                validators: write,
                error: None,
            });
        }
        if waiting > 0 {
            warn!(
                "{waiting} articles wait for the next poll: their site answered 429 Too Many Requests"
            );
        }
        out
    }

    /// One article: its validators and, unless the server said it is not
    /// modified, its text.
    pub async fn read(
        &self,
        link: &str,
        validators: &Validators,
    ) -> Result<(Validators, Option<String>), Unread> {
        let url = Url::parse(link)
            .map_err(|e| Unread::from(format!("the link {link:?} is not a URL ({e})")))?;
        let host = polite::host_key(&url);
        let _slot = match self.limits {
            Some(limits) => Some(limits.acquire(&host).await.ok_or_else(Unread::stopped)?),
            None => None,
        };
        let request = FetchRequest {
            url: &url,
            validators,
            timeout: self.source.timeout,
            max_body: self.source.max_body,
            accept: fetch::PAGE_ACCEPT,
            keep_alive: true,
            // Sign-in and cookies go with an article only on the source's own host.
            extras: Some(fetch::Extras {
                config: &self.source.request,
                origin: &self.source.url,
            }),
        };
        let fetched = match self
            .fetcher
            .fetch_link(&request, self.allow_private_links)
            .await
        {
            Ok(FetchOutcome::NotModified { validators, .. }) => return Ok((validators, None)),
            Ok(FetchOutcome::Fetched(fetched)) => fetched,
            Err(e) => {
                let throttled = e.status() == Some(429);
                // Its Retry-After holds every request to the host, the
                // feed's own and other sources' included, as a feed's would.
                let wait = e
                    .retry_after()
                    .filter(|_| throttled)
                    .and_then(|v| polite::retry_delay(v, std::time::SystemTime::now()));
                if let (Some(limits), Some(wait)) = (self.limits, wait) {
                    limits.pause_host(&host, Utc::now() + wait);
                }
                return Err(Unread {
                    error: error_chain(&e),
                    throttled,
                });
            }
        };
        let select = self.source.article_select.clone();
        let final_url = fetched.final_url.clone();
        let content_type = fetched.content_type.clone();
        let body = fetched.body;
        let text = tokio::task::spawn_blocking(move || {
            page::article_text(
                &body,
                content_type.as_deref(),
                Some(&final_url),
                select.as_deref(),
            )
        })
        .await
        .map_err(|e| Unread::from(format!("the article reader failed: {e}")))?
        .map_err(|e| Unread::from(format!("{}: {}", fetched.final_url, error_chain(&e))))?;
        Ok((fetched.validators, Some(text)))
    }
}

/// Why an article was not read.
#[derive(Debug)]
pub struct Unread {
    pub error: String,
    /// Its site answered 429: nothing more is asked of it in this round.
    pub throttled: bool,
}

impl Unread {
    /// The article was not asked for: feedwatch is stopping.
    fn stopped() -> Unread {
        Unread::from("not asked for: feedwatch is stopping".to_string())
    }
}

impl From<String> for Unread {
    fn from(error: String) -> Unread {
        Unread {
            error,
            throttled: false,
        }
    }
}

/// The host of a link, as the per-host limits name it.
fn host_of(link: &str) -> String {
    Url::parse(link)
        .map(|u| polite::host_key(&u))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(first_seen: &str) -> ArticleState {
        ArticleState {
            first_seen: first_seen.to_string(),
            ..ArticleState::default()
        }
    }

    #[test]
    fn only_items_with_links_seen_recently_are_due() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let states: HashMap<String, ArticleState> = [
            ("old".to_string(), state("2026-11-01T12:00:00Z")),
            ("recent".to_string(), state("2026-11-25T12:00:00Z")),
        ]
        .into_iter()
        .collect();
        let items = [
            ("new", "https://e.org/new"),
            ("recent", " https://e.org/recent "),
            ("old", "https://e.org/old"),
            ("linkless", ""),
        ];
        let week = Duration::from_secs(7 * 24 * 3600);
        let keys: Vec<String> = due(items, &states, week, now)
            .into_iter()
            .map(|w| format!("{} {}", w.key, w.link))
            .collect();
        assert_eq!(
            keys,
            ["new https://e.org/new", "recent https://e.org/recent"]
        );
    }
}
