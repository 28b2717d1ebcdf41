//! Support shared by the integration tests: a scriptable HTTP origin and a
//! webhook receiver on one loopback listener, a runner for the real binary,
//! configuration files built from parts, edits of the feed fixtures, an
//! independent signature check, and `or_fail` for giving up on a value.

pub mod changes;
pub mod channels;
pub mod disk;
pub mod fail;
pub mod fixtures;
pub mod hooks;
pub mod hostile;
pub mod loopback;
pub mod proxy;
pub mod reading;
pub mod receiver;
pub mod runner;
pub mod server;
pub mod signature;
pub mod smtp;
pub mod toml;
pub mod watch;

pub use fail::OrFail;
pub use fixtures::{
    KEYS, SPAM_PREFIX, clean_feed, defaced_feed, insert_item_top, item_count, remove_item, replace,
};
pub use receiver::{Delivery, Reply};
pub use runner::{Daemon, Feedwatch, Output};
pub use server::{LAST_MODIFIED, Recorded, Response, TestServer, etag};
pub use toml::Toml;
