//! The log sink: one JSON event per line, appended to a file or standard output.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::event::Event;

/// Appends events as JSON lines and makes them durable before returning.
pub fn append(path: Option<&Path>, events: &[&Event]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(events.len() * 512);
    for event in events {
        buf.extend_from_slice(event.to_json().as_bytes());
        buf.push(b'\n');
    }
    match path {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = OpenOptions::new().create(true).append(true).open(path)?;
            file.write_all(&buf)?;
            file.sync_data()
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()
        }
    }
}
