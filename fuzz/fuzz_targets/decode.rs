//! Byte decoding: any bytes with any declared charset become UTF-8 text
//! without panicking, and stripping the DOCTYPE leaves none behind: stripping
//! again changes nothing.
#![no_main]

use feedwatch::source::decode;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("text/xml; charset=utf-8"),
    Some("text/html; charset=windows-1252"),
    Some("application/xml; charset=utf-16be"),
    Some("text/html; charset=bogus"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let xml = decode::xml_to_utf8(body, content_type);
    let stripped = decode::strip_doctype(&xml.text);
    assert_eq!(decode::strip_doctype(&stripped), stripped);
    let _ = decode::html_to_utf8(body, content_type);
});
