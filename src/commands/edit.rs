//! `add`, `remove` and `discover`: the configuration file gains or loses a
//! `[[source]]` table (every other byte kept, the result validated before it
//! is written), and the feeds a page offers are listed.

use std::path::Path;

use url::Url;

use super::{AppError, Context, Status, command_runtime, emit, try_source};
use crate::cli::{AddArgs, RemoveArgs};
use crate::config::{self, Config, NewSource, Settings, SourceKind};
use crate::error::error_chain;
use crate::fetch::{self, Extras, FetchOutcome, FetchRequest, Fetched, Fetcher, Validators};
use crate::polite::{self, Limits};
use crate::source::discover::{self, Offered};
use crate::source::{self, Document};

/// What a running daemon needs to see the change.
const RELOAD_HINT: &str = "a running daemon reads the change on reload: systemctl reload feedwatch (or kill -HUP its process)";

pub fn discover(ctx: Context, url: &str) -> Result<Status, AppError> {
    let config = ctx.config()?;
    let url = parse_url(url)?;
    let web = Web::new(&config.settings)?;
    let page = web.get(&url, fetch::PAGE_ACCEPT)?;
    if source::sniff(&page.body, page.content_type.as_deref()) == SourceKind::Feed {
        eprintln!("{url} is a feed itself: `feedwatch add {url}` watches it");
        return Ok(1);
    }
    let offered = offered(&page)?;
    if offered.is_empty() {
        eprintln!("{url} offers no feeds (no <link rel=\"alternate\"> of RSS, Atom or JSON Feed)");
        return Ok(1);
    }
    for (n, feed) in offered.iter().enumerate() {
        let title = if feed.title.is_empty() {
            "(untitled)"
        } else {
            &feed.title
        };
        emit(&format!(
            "{}  {:<4}  {}  {title}",
            n + 1,
            feed.format.as_str(),
            feed.url
        ))?;
    }
    Ok(0)
}

pub fn add(ctx: Context, args: &AddArgs) -> Result<Status, AppError> {
    let path = ctx.config_path.clone();
    let config = ctx.config()?;
    let text = read_config(&path)?;
    let url = parse_url(&args.url)?;
    let web = Web::new(&config.settings)?;
    let chosen = choose(&web, &url, args)?;
    refuse_watched(&config, &chosen.url)?;
    let name = match &args.name {
        Some(name) => free_name(&config, name)?,
        None => derived_name(&config, &chosen),
    };
    chosen.show()?;
    let new = NewSource {
        name: &name,
        url: &chosen.url,
        kind: Some(chosen.kind()),
        interval: args.interval.as_deref(),
    };
    let edited = config::with_source_appended(&text, &new);
    config::load_text(&edited, &path).map_err(AppError::Config)?;
    write(&path, &edited)?;
    emit("")?;
    emit(&format!(
        "added source `{name}` ({} {}) to {}",
        chosen.kind().as_str(),
        chosen.url,
        path.display()
    ))?;
    emit(RELOAD_HINT)?;
    Ok(0)
}

pub fn remove(ctx: Context, args: &RemoveArgs) -> Result<Status, AppError> {
    let path = ctx.config_path.clone();
    let config = ctx.config()?;
    if config.source(&args.name).is_none() {
        return Err(AppError::Usage(unknown_source(&config, &args.name)));
    }
    let text = read_config(&path)?;
    let edited =
        config::without_source(&text, &args.name).map_err(|e| AppError::Usage(e.to_string()))?;
    config::load_text(&edited, &path).map_err(AppError::Config)?;
    write(&path, &edited)?;
    emit(&format!(
        "removed source `{}` from {}",
        args.name,
        path.display()
    ))?;
    if args.purge {
        let mut store = super::open_store(&config.settings.database)?;
        match store.purge_source(&args.name)? {
            Some(p) => emit(&format!(
                "deleted its history: {} items and {} events",
                p.items, p.events
            ))?,
            None => emit("the database held no history for it")?,
        }
    } else {
        emit("its history stays in the database (remove it with --purge)")?;
    }
    emit(RELOAD_HINT)?;
    Ok(0)
}

fn unknown_source(config: &Config, name: &str) -> String {
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    let hint = config::did_you_mean(name, names.iter().copied());
    if names.is_empty() {
        return format!("there is no source named `{name}`; the configuration has no sources");
    }
    format!(
        "there is no source named `{name}`{hint}; the sources are {}",
        names.join(", ")
    )
}

fn parse_url(text: &str) -> Result<Url, AppError> {
    let url = Url::parse(text.trim())
        .map_err(|e| AppError::Usage(format!("{text:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AppError::Usage(format!(
            "{text:?} is not an http or https URL"
        )));
    }
    Ok(url)
}

fn read_config(path: &Path) -> Result<String, AppError> {
    std::fs::read_to_string(path).map_err(|e| AppError::Input {
        what: format!("cannot read {}", path.display()),
        source: Box::new(e),
    })
}

fn write(path: &Path, text: &str) -> Result<(), AppError> {
    config::write_atomically(path, text).map_err(|e| AppError::Input {
        what: format!("cannot write {}", path.display()),
        source: Box::new(e),
    })
}

/// The same address, a trailing `/` aside.
fn same_url(a: &Url, b: &Url) -> bool {
    a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
}

fn refuse_watched(config: &Config, url: &Url) -> Result<(), AppError> {
    match config.sources.iter().find(|s| same_url(&s.url, url)) {
        Some(s) => Err(AppError::Usage(format!(
            "{url} is already watched by the source `{}`",
            s.name
        ))),
        None => Ok(()),
    }
}

/// The fetcher and per-host limits a poll uses, for one command's requests.
struct Web<'a> {
    settings: &'a Settings,
    fetcher: Fetcher,
    limits: Limits,
    runtime: tokio::runtime::Runtime,
}

impl<'a> Web<'a> {
    fn new(settings: &'a Settings) -> Result<Web<'a>, AppError> {
        Ok(Web {
            settings,
            fetcher: Fetcher::new(&settings.user_agent).map_err(AppError::Http)?,
            limits: Limits::of(settings),
            runtime: command_runtime()?,
        })
    }

    /// One fetch within `[settings]`' limits, headers, sign-in and proxy.
    fn get(&self, url: &Url, accept: &str) -> Result<Fetched, AppError> {
        let validators = Validators::default();
        let request = FetchRequest {
            url,
            validators: &validators,
            timeout: self.settings.timeout,
            max_body: self.settings.max_body,
            accept,
            keep_alive: true,
            extras: Some(Extras {
                config: &self.settings.request,
                origin: url,
            }),
        };
        let outcome = self.runtime.block_on(async {
            let _slot = self.limits.acquire(&polite::host_key(url)).await;
            self.fetcher.fetch(&request).await
        });
        match outcome {
            Ok(FetchOutcome::Fetched(fetched)) => Ok(fetched),
            Ok(FetchOutcome::NotModified { .. }) => Err(AppError::Usage(format!(
                "{url} answered 304 to a plain request"
            ))),
            Err(e) => Err(AppError::Fetch(e)),
        }
    }
}

fn offered(page: &Fetched) -> Result<Vec<Offered>, AppError> {
    discover::feeds(&page.body, page.content_type.as_deref(), &page.base_url())
        .map_err(|e| AppError::Usage(format!("{}: {}", page.final_url, error_chain(&e))))
}

/// What `add` settled on watching, as read.
struct Chosen {
    url: Url,
    read: Read,
}

enum Read {
    Feed(Document),
    Page(source::page::Page),
}

impl Chosen {
    fn feed(url: &Url, doc: Document) -> Chosen {
        Chosen {
            url: url.clone(),
            read: Read::Feed(doc),
        }
    }

    fn kind(&self) -> SourceKind {
        match self.read {
            Read::Feed(_) => SourceKind::Feed,
            Read::Page(_) => SourceKind::Page,
        }
    }

    fn title(&self) -> &str {
        match &self.read {
            Read::Feed(doc) => &doc.title,
            Read::Page(page) => &page.title,
        }
    }

    /// What a poll would record, as `test` shows it.
    fn show(&self) -> Result<(), AppError> {
        match &self.read {
            Read::Feed(doc) => try_source::show(doc, "feed", "", &[]),
            Read::Page(page) => try_source::show_page(page, "page", "", false).map(|_| ()),
        }
    }
}

fn choose(web: &Web<'_>, url: &Url, args: &AddArgs) -> Result<Chosen, AppError> {
    let as_page = args.page || args.kind.as_deref() == Some("page");
    let accept = if as_page {
        fetch::PAGE_ACCEPT
    } else {
        fetch::FEED_ACCEPT
    };
    let first = web.get(url, accept)?;
    let content_type = first.content_type.as_deref();
    if as_page {
        let page = source::page::read(&first.body, content_type, &[], &[])
            .map_err(|e| AppError::Usage(format!("{url}: {}", error_chain(&e))))?;
        return Ok(Chosen {
            url: url.clone(),
            read: Read::Page(page),
        });
    }
    if source::sniff(&first.body, content_type) == SourceKind::Feed {
        let doc = read_feed(&first, url)?;
        return Ok(Chosen::feed(url, doc));
    }
    let offered = offered(&first)?;
    let pick = args.pick.unwrap_or(1) as usize;
    let Some(feed) = offered.get(pick - 1) else {
        return Err(AppError::Usage(match offered.len() {
            0 => format!(
                "{url} is a page that offers no feeds; add it with --page to watch the page itself"
            ),
            n => format!(
                "{url} offers {n} feeds, so there is no feed {pick} (see `feedwatch discover {url}`)"
            ),
        }));
    };
    let fetched = web.get(&feed.url, fetch::FEED_ACCEPT)?;
    let doc = read_feed(&fetched, &feed.url)?;
    Ok(Chosen::feed(&feed.url, doc))
}

fn read_feed(fetched: &Fetched, url: &Url) -> Result<Document, AppError> {
    source::feed::read(
        &fetched.body,
        fetched.content_type.as_deref(),
        Some(&fetched.base_url()),
    )
    .map_err(|e| {
        AppError::Usage(format!(
            "{url} is not a feed that can be read: {}",
            error_chain(&e)
        ))
    })
}

/// `name` when no source has it yet.
fn free_name(config: &Config, name: &str) -> Result<String, AppError> {
    match config.source(name) {
        Some(_) => Err(AppError::Usage(format!(
            "a source is already named `{name}`; choose another --name"
        ))),
        None => Ok(name.to_string()),
    }
}

/// From the feed's (or page's) title, else the host, as `import-opml`
/// names them; `-2`, `-3`… when taken.
fn derived_name(config: &Config, chosen: &Chosen) -> String {
    let mut taken = config.sources.iter().map(|s| s.name.clone()).collect();
    crate::opml::unique(
        crate::opml::base_name(chosen.title(), &chosen.url),
        &mut taken,
    )
}
