//! The log sink: one JSON event per line, appended to a file or standard output.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::event::Event;

/// Appends events as JSON lines and makes them durable before returning.
/// A write that fails part-way (a full disk) is cut back off: the file
/// never keeps part of a batch that stays pending.
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
            let before = file.metadata()?.len();
            let written = file.write_all(&buf).and_then(|()| file.sync_data());
            if written.is_err() {
                let _ = file.set_len(before).and_then(|()| file.sync_data());
            }
            written
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()
        }
    }
}

/// How much of a log file's end is read to find what was written before
/// a crash: more than the largest batch appended at once.
const TAIL: u64 = 8 << 20;

/// The ids of the events at the end of a log file, read when a process
/// becomes the sink's deliverer: a holder killed between appending events
/// and marking them delivered left them there, and they are not appended
/// twice. A last line cut short by the crash is removed first.
pub fn written_ids(path: &Path) -> io::Result<HashSet<String>> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        // A device or a pipe keeps nothing to read back.
        return Ok(HashSet::new());
    }
    let len = meta.len();
    let start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    file.read_to_end(&mut tail)?;
    if tail.last().is_some_and(|b| *b != b'\n') {
        let kept = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if kept > 0 || start == 0 {
            file.set_len(start + kept as u64)?;
            file.sync_data()?;
            tail.truncate(kept);
        }
    }
    let ids = tail
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter_map(|event| event.get("id")?.as_str().map(str::to_string))
        .collect();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_short_is_removed_and_whole_lines_are_recognised() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("alerts.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"evt_1\",\"type\":\"item.new\"}\n{\"id\":\"evt_2\"}\n{\"id\":\"evt_3\",\"ty",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ids = written_ids(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ids,
            HashSet::from(["evt_1".to_string(), "evt_2".to_string()])
        );
        let left = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            left,
            "{\"id\":\"evt_1\",\"type\":\"item.new\"}\n{\"id\":\"evt_2\"}\n"
        );
        assert!(written_ids(&dir.path().join("none")).is_ok_and(|ids| ids.is_empty()));
    }
}
