//! Why a poll failed, kept typed until it is printed or stored.

use std::sync::Arc;

use crate::error::error_chain;
use crate::fetch::FetchError;
use crate::source::ParseError;
use crate::source::jq::JqError;
use crate::source::page::PageError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Feed(#[from] ParseError),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error(transparent)]
    Json(#[from] JqError),
    /// A reader stopped without an answer (it panicked).
    #[error("the {0} reader failed")]
    Reader(&'static str, #[source] tokio::task::JoinError),
    #[error("compressing the new versions failed")]
    Compress(#[source] tokio::task::JoinError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transaction that held this poll among others failed as a whole.
    #[error(transparent)]
    Batch(Arc<StoreError>),
    #[error("the database writer stopped before this poll was written")]
    WriterStopped,
    /// feedwatch is stopping and the poll had not started its request.
    #[error("not started: feedwatch is stopping")]
    Stopped,
    /// A poll failed, and so did recording that it failed.
    #[error("{}; and it could not be recorded", error_chain(.failure))]
    NotRecorded {
        failure: Box<PollError>,
        #[source]
        source: Box<PollError>,
    },
}

impl PollError {
    /// Another process recorded a poll of the source meanwhile, with the
    /// changes this one found: nothing is lost, and nothing failed.
    pub fn is_superseded(&self) -> bool {
        matches!(self, PollError::Store(StoreError::Superseded))
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PollError::Fetch(e) => e.status(),
            _ => None,
        }
    }

    /// The server's `Retry-After`, as it wrote it.
    pub fn retry_after(&self) -> Option<&str> {
        match self {
            PollError::Fetch(e) => e.retry_after(),
            _ => None,
        }
    }
}
