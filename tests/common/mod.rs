//! Support shared by the integration tests: a scriptable HTTP origin, a runner
//! for the real binary, and edits of the feed fixtures.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code, unused_imports)]

pub mod fixtures;
pub mod hostile;
pub mod runner;
pub mod server;

pub use fixtures::{
    KEYS, SPAM_PREFIX, clean_feed, defaced_feed, insert_item_top, item_count, remove_item, replace,
};
pub use runner::{Daemon, Feedwatch, Output};
pub use server::{LAST_MODIFIED, Recorded, Response, TestServer, etag};
