//! A database holding real changes, made by real polls of the Frontline feed
//! on a local origin: an edited paragraph, a new story with a hostile title,
//! a defaced feed (one bulk change) and an edit of the hostile title.

use super::fixtures::{clean_feed, defaced_feed, insert_item_top, replace};
use super::runner::Feedwatch;
use super::server::{Response, TestServer};
use super::toml::Toml;

pub const FEED: &str = "/tag/frontline/feed/";
pub const NAME: &str = "frontline";

/// The content edit of item 1 ("More children at risk of extra-familial harm…").
pub const EDITED_KEY: &str = "https://www.communitycare.co.uk/?p=211568";
pub const EDITED_LINK: &str = "https://www.communitycare.co.uk/2024/09/11/more-children-at-risk-of-extra-familial-harm-or-reliant-on-food-banks-say-social-workers/";
pub const OLD_WORDS: &str = "also found practitioners were battling high caseloads";
pub const NEW_WORDS: &str = "found that many practitioners were battling very high caseloads";

/// A story whose title is markup once the feed is read: it must only ever be shown.
pub const HOSTILE_KEY: &str = "https://www.communitycare.co.uk/?p=999001";
pub const HOSTILE_TITLE: &str =
    "<script>document.title='pwned'</script> Council <b>denies</b> cuts & apologises";
pub const HOSTILE_TITLE_EDITED: &str =
    "<script>document.title='pwned'</script> Council <b>denies</b> cuts & apologises again";
pub const HOSTILE_LINK: &str = "javascript:alert('pwned')";

/// Events the three changing polls raise.
pub const EVENT_COUNT: usize = 4;

pub struct Changes {
    pub server: TestServer,
    pub fw: Feedwatch,
}

impl Changes {
    /// A folder watching the feed, with extra `[settings]` lines; nothing polled yet.
    pub fn new(settings: &str) -> Changes {
        let server = TestServer::start();
        let fw = Feedwatch::new();
        fw.write_config(config(&server, settings, "15m"));
        Changes { server, fw }
    }

    /// The baseline and the three changing polls, by `check`.
    pub fn recorded(settings: &str) -> Changes {
        let changes = Changes::new(settings);
        for step in 0..4 {
            changes.serve_step(step);
            changes.fw.run(&["check"]).assert_code(0);
        }
        assert_eq!(
            changes.fw.events().len(),
            EVENT_COUNT,
            "{:#?}",
            changes.fw.events()
        );
        changes
    }

    /// Serves the feed as it is at `step`: 0 clean, 1 edited and with the
    /// hostile story, 2 and later defaced with the hostile title edited.
    pub fn serve_step(&self, step: usize) {
        self.server.set(FEED, Response::rss(feed_at(step)));
    }

    /// Runs a command and expects success.
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.fw.run(args);
        out.assert_code(0);
        out.stdout
    }
}

pub fn config(server: &TestServer, settings: &str, interval: &str) -> Toml {
    Toml::journal()
        .setting(settings)
        .feed(NAME, &server.url(FEED))
        .line(format!("interval = \"{interval}\""))
        .line(r#"track = ["new", "updated", "removed"]"#)
}

pub fn feed_at(step: usize) -> String {
    let hostile = |xml: &str, title: &str| {
        insert_item_top(
            xml,
            HOSTILE_KEY,
            &html_escape(title),
            HOSTILE_LINK,
            "Wed, 05 Feb 2025 10:00:00 +0000",
            "<p>The council said it had <em>no plans</em> to cut the service.</p>",
        )
    };
    match step {
        0 => clean_feed(),
        1 => hostile(&replace(&clean_feed(), OLD_WORDS, NEW_WORDS), HOSTILE_TITLE),
        _ => hostile(
            &replace(&defaced_feed(), OLD_WORDS, NEW_WORDS),
            HOSTILE_TITLE_EDITED,
        ),
    }
}

/// The feed carries the title as HTML text, so the markup is escaped once
/// more than the XML escaping the fixture helper adds.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
