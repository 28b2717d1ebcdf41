//! The poll steps that decide what is raised and what is held back (flapping,
//! with the alert conditions applied in detect), and the reading of JSON
//! API sources, whose result is either a feed's items or a page's text.

use url::Url;

use super::{PollError, Read, Step};
use crate::detect;
use crate::event::EventKind;
use crate::fetch::{Hints, Validators};
use crate::source::Document;
use crate::source::jq::{self, Yield};
use crate::source::page::Page;
use crate::store::{NewEvent, StoreError};

impl Step<'_> {
    /// Events the alert conditions held back: stored with their reason
    /// for `report --all`, delivered nowhere.
    pub(super) fn held_events(&self, held: Vec<detect::HeldBack>) -> Vec<NewEvent> {
        let source = self.source_ref();
        held.into_iter()
            .map(|h| {
                let mut event = h.draft.into_event(&source, self.now);
                event.held = Some(h.reason);
                NewEvent {
                    event,
                    sinks: Vec::new(),
                }
            })
            .collect()
    }

    /// Edits returning to a version already seen, judged against the
    /// versions stored of the items edited (read only when there are some).
    pub(super) async fn unflap(
        &self,
        mut detection: detect::Detection,
    ) -> Result<detect::Detection, StoreError> {
        let keys: Vec<String> = detection
            .drafts
            .iter()
            .filter(|d| d.kind == EventKind::ItemUpdated)
            .filter_map(|d| d.item.as_ref().map(|i| i.key.clone()))
            .collect();
        if keys.is_empty() {
            return Ok(detection);
        }
        let source_id = self.state.id;
        let limit = detect::flapping::HISTORY;
        let history = self
            .poller
            .store
            .run(move |s| s.recent_versions(source_id, &keys, limit))
            .await?;
        detect::flapping::apply(&mut detection, &history, &self.source.compare);
        Ok(detection)
    }

    /// Runs the source's jq filter on a blocking thread.
    pub(super) async fn read_json(&self, body: Vec<u8>, base: Url) -> Result<Yield, PollError> {
        let code = self.source.jq.clone().unwrap_or_else(|| ".".into());
        let read = tokio::task::spawn_blocking(move || jq::read(&body, &code, Some(&base)));
        Ok(read.await.map_err(|e| PollError::Reader("jq", e))??)
    }
}

/// Items are read as a feed's, a document as a page's text.
pub(super) fn json_read(yielded: Yield, validators: Validators, hints: Hints) -> Read {
    match yielded {
        Yield::Items(items) => {
            let doc = Document {
                items,
                ..Document::default()
            };
            Read::Document(doc, validators, hints)
        }
        Yield::Document(text) => {
            let title = String::new();
            Read::Page(Page { title, text }, validators, hints)
        }
    }
}
