//! `test`: fetch a source or URL and show what would be recorded.

use serde_json::json;
use url::Url;

use super::{AppError, Context, Status, command_runtime, emit};
use crate::config::{SourceConfig, SourceKind};
use crate::error::error_chain;
use crate::fetch::{Extras, FEED_ACCEPT, FetchOutcome, FetchRequest, Fetcher, Validators};
use crate::follow::Following;
use crate::source::jq::Yield;
use crate::source::page::Page;
use crate::source::{self, Document};

pub fn test(ctx: Context, target: &str, as_json: bool) -> Result<Status, AppError> {
    let target = resolve(ctx, target)?;
    let url = &target.url;
    let fetcher = Fetcher::new(&target.user_agent).map_err(AppError::Http)?;
    let no_validators = Validators::default();
    let request = FetchRequest {
        url,
        validators: &no_validators,
        timeout: target.timeout,
        max_body: target.max_body,
        accept: FEED_ACCEPT,
        keep_alive: false,
        extras: Some(Extras {
            config: &target.request,
            origin: url,
        }),
    };
    let rt = command_runtime()?;
    let fetched = match rt.block_on(fetcher.fetch(&request)) {
        Ok(FetchOutcome::Fetched(f)) => f,
        Ok(FetchOutcome::NotModified { .. }) => {
            return Err(AppError::Usage(
                "the server answered 304 to a plain request".into(),
            ));
        }
        Err(e) => {
            eprintln!("error: {url}: {}", error_chain(&e));
            return Ok(1);
        }
    };
    let content_type = fetched.content_type.as_deref();
    let configured = target.source.as_ref().and_then(|s| s.kind);
    let kind = configured.unwrap_or_else(|| source::sniff(&fetched.body, content_type));
    let how = if configured.is_some() {
        ""
    } else {
        " (sniffed from the response)"
    };
    if kind == SourceKind::Page {
        let (select, exclude) = target
            .source
            .as_ref()
            .map(|s| (s.select.clone(), s.exclude.clone()))
            .unwrap_or_default();
        let page = match source::page::read(&fetched.body, content_type, &select, &exclude) {
            Ok(page) => page,
            Err(e) => {
                eprintln!("error: {url}: {}", error_chain(&e));
                return Ok(1);
            }
        };
        let ignore = target.source.as_ref().map(|s| s.ignore.as_slice());
        let page = Page {
            text: crate::text::apply_ignore(&page.text, ignore.unwrap_or_default()),
            ..page
        };
        return show_page(&page, "page", how, as_json);
    }
    let (label, read) = if kind == SourceKind::Json {
        match read_json(&fetched.body, &fetched.base_url(), target.source.as_ref()) {
            Ok(Yield::Items(items)) => {
                let doc = Document {
                    items,
                    ..Document::default()
                };
                ("json", Ok(doc))
            }
            Ok(Yield::Document(text)) => {
                let title = String::new();
                return show_page(&Page { title, text }, "json", how, as_json);
            }
            Err(e) => ("json", Err(error_chain(&e))),
        }
    } else {
        let read = source::feed::read(&fetched.body, content_type, Some(&fetched.base_url()));
        ("feed", read.map_err(|e| error_chain(&e)))
    };
    let doc = match read {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("error: {url}: {e}");
            return Ok(1);
        }
    };
    let articles = match target.source.as_ref().filter(|s| s.follow_links) {
        Some(source) => rt.block_on(first_articles(&fetcher, source, &target, &doc)),
        None => Vec::new(),
    };
    if as_json {
        let mut value = to_json(&doc, label);
        for (item, article) in value["items"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .zip(&articles)
        {
            let (text, error) = match article {
                Ok(text) => (Some(text.as_str()), None),
                Err(e) => (None, Some(e.as_str())),
            };
            item["article"] = json!(text);
            item["article_error"] = json!(error);
        }
        emit(&value.to_string())?;
    } else {
        show(&doc, label, how, &articles)?;
    }
    Ok(0)
}

/// How many items `test` follows to show their article text.
const ARTICLES_SHOWN: usize = 3;

/// The article text of the first items, read as a poll would read it.
async fn first_articles(
    fetcher: &Fetcher,
    source: &SourceConfig,
    target: &Target,
    doc: &Document,
) -> Vec<Result<String, String>> {
    let following = Following {
        fetcher,
        limits: None,
        source,
        allow_private_links: target.allow_private_links,
    };
    let mut out = Vec::new();
    for item in doc.items.iter().take(ARTICLES_SHOWN) {
        let read = if item.link.trim().is_empty() {
            Err("the item has no link of its own".to_string())
        } else {
            following
                .read(item.link.trim(), &Validators::default())
                .await
                .map(|(_, text)| {
                    crate::text::apply_ignore(&text.unwrap_or_default(), &source.ignore)
                })
                .map_err(|unread| unread.error)
        };
        out.push(read);
    }
    out
}

/// What `test` fetches and within which limits.
struct Target {
    url: Url,
    timeout: std::time::Duration,
    max_body: u64,
    user_agent: String,
    /// The source's request settings, or `[settings]`' for a bare URL.
    request: crate::config::RequestConfig,
    /// The configured source, when the target names one.
    source: Option<SourceConfig>,
    allow_private_links: bool,
}

/// A configured source's settings, or the configuration's (else the
/// default) settings for a bare URL.
fn resolve(ctx: Context, target: &str) -> Result<Target, AppError> {
    let config = ctx.config().ok();
    let settings = config
        .as_ref()
        .map(|c| c.settings.clone())
        .unwrap_or_default();
    let source = config.as_ref().and_then(|c| c.source(target)).cloned();
    let url = match &source {
        Some(source) => source.url.clone(),
        None => Url::parse(target).map_err(|e| {
            AppError::Usage(format!(
                "{target:?} is neither a configured source nor a URL ({e})"
            ))
        })?,
    };
    Ok(Target {
        url,
        timeout: source.as_ref().map_or(settings.timeout, |s| s.timeout),
        max_body: source.as_ref().map_or(settings.max_body, |s| s.max_body),
        user_agent: settings.user_agent,
        request: source
            .as_ref()
            .map_or(settings.request, |s| s.request.clone()),
        allow_private_links: source.is_some() && settings.allow_private_links,
        source,
    })
}

/// The page's title and the text that would be compared, line by line.
pub(super) fn show_page(
    page: &Page,
    label: &str,
    how: &str,
    as_json: bool,
) -> Result<Status, AppError> {
    if as_json {
        let value = json!({"kind": label, "title": page.title, "items": [], "text": page.text});
        emit(&value.to_string())?;
        return Ok(0);
    }
    let lines = page.text.lines().count();
    emit(&format!(
        "{label}{how}: {} ({lines} lines of text)",
        page.title
    ))?;
    emit("")?;
    for line in page.text.lines() {
        emit(&format!("  {line}"))?;
    }
    Ok(0)
}

/// A JSON source's body through its filter, with its `ignore` patterns
/// applied to a document as a poll applies them.
fn read_json(
    body: &[u8],
    base: &Url,
    source: Option<&SourceConfig>,
) -> Result<Yield, source::jq::JqError> {
    let code = source.and_then(|s| s.jq.as_deref()).unwrap_or(".");
    let ignore = source.map(|s| s.ignore.as_slice()).unwrap_or_default();
    Ok(match source::jq::read(body, code, Some(base))? {
        Yield::Document(text) => Yield::Document(crate::text::apply_ignore(&text, ignore)),
        items => items,
    })
}

fn to_json(doc: &Document, label: &str) -> serde_json::Value {
    let items: Vec<_> = doc
        .items
        .iter()
        .map(|i| {
            json!({
                "key": i.key,
                "title": i.title,
                "link": i.link,
                "published": i.published.map(crate::event::format_time),
                "updated": i.updated.map(crate::event::format_time),
                "author": i.author,
                "summary": i.summary,
                "content": i.content,
                "enclosure": i.enclosure.as_ref().map(|e| json!({"url": e.url, "type": e.media_type})),
            })
        })
        .collect();
    json!({
        "kind": label,
        "title": doc.title,
        "items": items,
        "text": null,
        "warnings": doc.warnings,
    })
}

pub(super) fn show(
    doc: &Document,
    label: &str,
    how: &str,
    articles: &[Result<String, String>],
) -> Result<(), AppError> {
    emit(&format!(
        "{label}{how}: {} ({} items)",
        doc.title,
        doc.items.len()
    ))?;
    for warning in &doc.warnings {
        emit(&format!("warning: {warning}"))?;
    }
    for (n, item) in doc.items.iter().enumerate() {
        emit("")?;
        emit(&format!("  key:       {}", item.key))?;
        emit(&format!("  title:     {}", item.title))?;
        emit(&format!("  link:      {}", item.link))?;
        if let Some(p) = item.published {
            emit(&format!("  published: {}", crate::event::format_time(p)))?;
        }
        let words = item.content.split_whitespace().count();
        emit(&format!("  content:   {words} words"))?;
        match articles.get(n) {
            Some(Ok(text)) => {
                let words = text.split_whitespace().count();
                emit(&format!("  article:   {words} words"))?;
                for line in text.lines() {
                    emit(&format!("    {line}"))?;
                }
            }
            Some(Err(e)) => emit(&format!("  article:   not read: {e}"))?,
            None => {}
        }
    }
    Ok(())
}
