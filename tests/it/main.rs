//! The integration tests, one binary with a module per area: the real
//! `feedwatch` binary driven the way a user, a service manager or a webhook
//! receiver would, and the library's properties over generated input. What
//! the modules share is in `support`.

mod support;

mod add;
mod browser;
mod channels;
mod cli;
mod condition_properties;
mod conditions;
mod config_errors;
mod core;
mod daemon;
mod detect_properties;
mod email;
mod email_tls;
mod feedparser_parity;
mod follow;
mod formats;
mod hostile;
mod json_api;
mod normalize_properties;
mod once;
mod opml;
mod pages;
mod polite;
mod publish;
mod quirks;
mod reports;
mod requests;
mod service;
mod storage;
mod support_selftest;
mod versions;
mod webhooks;
mod webhooks_daemon;
mod webhooks_outbox;
