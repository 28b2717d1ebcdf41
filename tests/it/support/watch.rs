//! One feed watched with `check` on a local origin: the Frontline feed
//! served, polled, and the events each poll added.

use serde_json::Value;

use super::{Feedwatch, OrFail, Response, TestServer, Toml, clean_feed};

pub const FEED: &str = "/tag/frontline/feed/";
pub const NAME: &str = "frontline";

/// A feedwatch folder watching one feed on a local origin.
pub struct Watch {
    pub server: TestServer,
    pub fw: Feedwatch,
}

impl Watch {
    pub fn new(extra: &str) -> Watch {
        let server = TestServer::start();
        let fw = Feedwatch::new();
        fw.write_config(Toml::journal().feed(NAME, &server.url(FEED)).line(extra));
        Watch { server, fw }
    }

    /// Serves the clean feed and takes the quiet first poll.
    pub fn baselined(extra: &str) -> Watch {
        let watch = Watch::new(extra);
        watch.serve(&clean_feed());
        let events = watch.check();
        assert!(events.is_empty(), "the first poll alerted: {events:#?}");
        watch
    }

    pub fn serve(&self, xml: &str) {
        self.server.set(FEED, Response::rss(xml));
    }

    /// Runs `check`, expects success, and returns the events it added.
    pub fn check(&self) -> Vec<Value> {
        let before = self.fw.events().len();
        self.fw.run(&["check"]).assert_code(0);
        self.fw.events().split_off(before)
    }

    pub fn last_status(&self) -> u16 {
        self.server
            .requests(FEED)
            .last()
            .map(|r| r.status)
            .or_fail("the feed was requested")
    }

    pub fn history_lines(&self, item: &str) -> usize {
        let out = self.fw.run(&["history", NAME, item]);
        out.assert_code(0);
        out.lines().len()
    }
}
