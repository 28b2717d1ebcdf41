//! Large feeds read a slice of items at a time.
//!
//! feed-rs builds the whole feed model before returning it, at roughly a
//! kilobyte per entry before any text, so a feed of 50,000 small items costs
//! over 100 MB while it is parsed. Splitting the document into smaller
//! documents that share its head and tail (everything before the first item
//! and after the last) keeps that cost to one slice at a time; the items are
//! the same, in the same order.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Where each top-level item (`<item>`, `<entry>`) of a feed starts and ends.
fn item_spans(xml: &str) -> Option<Vec<(usize, usize)>> {
    let mut reader = Reader::from_str(xml);
    let mut spans = Vec::new();
    let mut depth = 0usize;
    // Depth and start of the item being read.
    let mut open: Option<(usize, usize)> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let after = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            Event::Start(start) => {
                if open.is_none() && depth <= 2 && is_item(start.local_name().into_inner()) {
                    open = Some((depth, before));
                }
                depth += 1;
            }
            Event::Empty(start)
                if open.is_none() && depth <= 2 && is_item(start.local_name().into_inner()) =>
            {
                spans.push((before, after));
            }
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                if let Some((at, start)) = open
                    && at == depth
                {
                    spans.push((start, after));
                    open = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (open.is_none() && depth == 0).then_some(spans)
}

fn is_item(local: &str) -> bool {
    local == "item" || local == "entry"
}

/// The document as several documents of at most `per_chunk` items each, or
/// `None` when it has no more items than that or cannot be split safely (it
/// is not well-formed as it stands): then it is read whole.
pub fn split(xml: &str, per_chunk: usize) -> Option<Vec<String>> {
    let spans = item_spans(xml)?;
    if spans.len() <= per_chunk.max(1) {
        return None;
    }
    let head = xml.get(..spans.first()?.0)?;
    let tail = xml.get(spans.last()?.1..)?;
    spans
        .chunks(per_chunk.max(1))
        .map(|chunk| {
            let body = xml.get(chunk.first()?.0..chunk.last()?.1)?;
            let mut doc = String::with_capacity(head.len() + body.len() + tail.len());
            doc.push_str(head);
            doc.push_str(body);
            doc.push_str(tail);
            Some(doc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(n: usize) -> String {
        let mut xml =
            String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>");
        for i in 0..n {
            xml.push_str(&format!(
                "<item><title>Item {i}</title><guid>g{i}</guid></item>\n"
            ));
        }
        xml.push_str("<ttl>60</ttl></channel></rss>");
        xml
    }

    #[test]
    fn splits_into_documents_sharing_head_and_tail() {
        let chunks = split(&rss(5), 2).unwrap_or_default();
        assert_eq!(chunks.len(), 3);
        for chunk in &chunks {
            assert!(chunk.starts_with(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><item>"
            ));
            assert!(chunk.ends_with("</item>\n<ttl>60</ttl></channel></rss>"));
        }
        assert_eq!(chunks[0].matches("<item>").count(), 2);
        assert_eq!(chunks[2].matches("<item>").count(), 1);
        assert!(chunks[2].contains("Item 4"));
    }

    #[test]
    fn small_or_broken_documents_are_left_whole() {
        assert!(split(&rss(3), 3).is_none());
        assert!(split("<rss><channel><item><title>x</item></channel>", 0).is_none());
        assert!(split("not xml at all", 1).is_none());
    }

    #[test]
    fn atom_entries_and_nested_items_are_found_at_the_top_only() {
        let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>A</title>\
                    <entry><id>1</id><content type=\"xhtml\"><div><item>not one</item></div></content></entry>\
                    <entry><id>2</id></entry><entry/></feed>";
        let spans = item_spans(atom).unwrap_or_default();
        assert_eq!(spans.len(), 3);
        let chunks = split(atom, 1).unwrap_or_default();
        assert_eq!(chunks.len(), 3);
        assert!(chunks[0].contains("not one") && chunks[0].ends_with("</entry></feed>"));
        assert!(chunks[2].contains("<entry/></feed>"));
    }
}
