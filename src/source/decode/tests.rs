use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use encoding_rs::{UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::*;

const TITLE: &str = "café – naïve ü";
const UTF8_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const UTF16_DECL: &str = r#"<?xml version="1.0" encoding="UTF-16"?>"#;
const LATIN1_DECL: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#;

fn rss(prolog: &str, item_title: &str) -> String {
    format!(
        "{prolog}<rss version=\"2.0\"><channel><title>{TITLE}</title>\
         <link>https://example.com/</link><description>Notes</description>\
         <item><title>{item_title}</title><link>https://example.com/1</link>\
         <guid>1</guid></item></channel></rss>"
    )
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let bom: &[u8] = if bom { &[0xFF, 0xFE] } else { &[] };
    bom.iter()
        .copied()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect()
}

fn utf16be(text: &str, bom: bool) -> Vec<u8> {
    let bom: &[u8] = if bom { &[0xFE, 0xFF] } else { &[] };
    bom.iter()
        .copied()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect()
}

fn windows_1252(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = WINDOWS_1252.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn with_utf8_bom(text: &str) -> Vec<u8> {
    [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()
}

#[derive(Debug)]
struct Parsed {
    channel: String,
    items: Vec<String>,
    summaries: Vec<String>,
}

/// Decodes, strips the DOCTYPE and parses, as the feed source does.
fn read_feed(bytes: &[u8], content_type: Option<&str>) -> (Decoded, Result<Parsed, String>) {
    let decoded = xml_to_utf8(bytes, content_type);
    let xml = strip_doctype(&decoded.text);
    let parsed = catch_unwind(AssertUnwindSafe(|| feed_rs::parser::parse(xml.as_bytes())))
        .expect("feed-rs must not panic on decoded input");
    let parsed = parsed.map_err(|e| e.to_string()).map(|feed| Parsed {
        channel: feed.title.map(|t| t.content).unwrap_or_default(),
        items: feed
            .entries
            .iter()
            .map(|e| {
                e.title
                    .as_ref()
                    .map(|t| t.content.clone())
                    .unwrap_or_default()
            })
            .collect(),
        summaries: feed
            .entries
            .iter()
            .map(|e| {
                e.summary
                    .as_ref()
                    .map(|t| t.content.clone())
                    .unwrap_or_default()
            })
            .collect(),
    });
    (decoded, parsed)
}

/// The titles come out exactly, decided by the expected rule.
fn assert_reads(bytes: &[u8], content_type: Option<&str>, decided: Decided) -> Decoded {
    let (decoded, parsed) = read_feed(bytes, content_type);
    assert_eq!(decoded.decided, decided);
    assert!(!decoded.had_errors);
    assert!(decoded.text.starts_with(UTF8_DECL) || decoded.text.starts_with("<rss"));
    let parsed = parsed.expect("the feed parses");
    assert_eq!(parsed.channel, TITLE);
    assert_eq!(parsed.items, [TITLE]);
    decoded
}

#[test]
fn utf8_with_and_without_declaration_or_bom() {
    let declared = rss(UTF8_DECL, TITLE);
    assert_reads(declared.as_bytes(), None, Decided::XmlDeclaration);
    assert_reads(rss("", TITLE).as_bytes(), None, Decided::Utf8);
    let decoded = assert_reads(&with_utf8_bom(&declared), None, Decided::Bom);
    assert_eq!(decoded.text, declared, "only the BOM goes");
    assert_eq!(decoded.encoding, UTF_8);
}

#[test]
fn utf16le_with_and_without_bom() {
    let doc = rss(UTF16_DECL, TITLE);
    let decoded = assert_reads(&utf16le(&doc, true), None, Decided::Bom);
    assert_eq!(decoded.encoding, UTF_16LE);
    let decoded = assert_reads(&utf16le(&doc, false), None, Decided::Detected);
    assert_eq!(decoded.encoding, UTF_16LE);
    assert!(decoded.text.starts_with(UTF8_DECL));
}

#[test]
fn utf16be_no_longer_panics_the_feed_parser() {
    let doc = rss(UTF16_DECL, TITLE);
    let decoded = assert_reads(&utf16be(&doc, true), None, Decided::Bom);
    assert_eq!(decoded.encoding, UTF_16BE);
    let decoded = assert_reads(&utf16be(&doc, false), None, Decided::Detected);
    assert_eq!(decoded.encoding, UTF_16BE);
}

#[test]
fn utf16_without_bom_or_declaration_after_whitespace() {
    let doc = format!("\n  {}", rss("", TITLE));
    assert_reads(&utf16le(&doc, false), None, Decided::Detected);
    assert_reads(&utf16be(&doc, false), None, Decided::Detected);
}

#[test]
fn undeclared_windows_1252_is_detected() {
    let bytes = windows_1252(&rss("", TITLE));
    assert!(
        bytes.contains(&0xE9) && bytes.contains(&0x96),
        "é and – as single bytes"
    );
    let decoded = assert_reads(&bytes, None, Decided::Detected);
    assert_eq!(decoded.encoding, WINDOWS_1252);
}

#[test]
fn iso_8859_1_from_the_http_charset_alone() {
    let bytes = windows_1252(&rss("", TITLE));
    for content_type in [
        "application/rss+xml; charset=ISO-8859-1",
        "text/xml;charset=iso-8859-1",
        "Text/XML; Charset=\"Latin1\"",
        "text/xml; format=flowed ;  CHARSET = 'iso-8859-1' ",
    ] {
        let decoded = assert_reads(&bytes, Some(content_type), Decided::HttpCharset);
        assert_eq!(decoded.encoding, WINDOWS_1252, "{content_type}");
    }
}

#[test]
fn iso_8859_1_from_the_declaration_alone() {
    let bytes = windows_1252(&rss(LATIN1_DECL, TITLE));
    let decoded = assert_reads(&bytes, Some("application/rss+xml"), Decided::XmlDeclaration);
    assert_eq!(decoded.encoding, WINDOWS_1252);
    assert!(decoded.text.starts_with(UTF8_DECL));
    assert!(!decoded.text.contains("ISO-8859-1"));
}

#[test]
fn declaration_after_leading_whitespace_is_read_and_moved_to_the_start() {
    for lead in ["\n\n  \t\n", "\r\n", &" ".repeat(80), &"\n".repeat(300)] {
        let bytes = windows_1252(&rss(&format!("{lead}{LATIN1_DECL}"), TITLE));
        let decoded = assert_reads(&bytes, None, Decided::XmlDeclaration);
        assert!(decoded.text.starts_with(UTF8_DECL));
        let utf8 = rss(&format!("{lead}{UTF8_DECL}"), TITLE);
        assert_reads(utf8.as_bytes(), None, Decided::XmlDeclaration);
    }
}

#[test]
fn bom_beats_a_lying_declaration_and_http_charset() {
    let lying = rss(LATIN1_DECL, TITLE);
    let decoded = assert_reads(&with_utf8_bom(&lying), None, Decided::Bom);
    assert!(decoded.text.starts_with(UTF8_DECL));
    let http = Some("text/xml; charset=iso-8859-1");
    assert_reads(&with_utf8_bom(&lying), http, Decided::Bom);
    let says_utf8 = rss(UTF8_DECL, TITLE);
    let decoded = assert_reads(
        &utf16be(&says_utf8, true),
        Some("text/xml; charset=utf-8"),
        Decided::Bom,
    );
    assert_eq!(decoded.encoding, UTF_16BE);
}

#[test]
fn http_charset_beats_the_declaration() {
    let bytes = windows_1252(&rss(UTF8_DECL, TITLE));
    let decoded = assert_reads(
        &bytes,
        Some("text/xml; charset=windows-1252"),
        Decided::HttpCharset,
    );
    assert!(decoded.text.starts_with(UTF8_DECL));
}

#[test]
fn utf16_declared_on_8bit_bytes_is_ignored() {
    let doc = rss(UTF16_DECL, TITLE);
    let decoded = assert_reads(
        doc.as_bytes(),
        Some("text/xml; charset=utf-16"),
        Decided::Utf8,
    );
    assert_eq!(decoded.encoding, UTF_8);
    assert!(decoded.text.starts_with(UTF8_DECL));
}

#[test]
fn declaration_is_followed_over_a_valid_utf8_body() {
    let (decoded, parsed) = read_feed(rss(LATIN1_DECL, TITLE).as_bytes(), None);
    assert_eq!(decoded.decided, Decided::XmlDeclaration);
    let (as_latin1, _) = WINDOWS_1252.decode_without_bom_handling(TITLE.as_bytes());
    assert_eq!(parsed.expect("parses").channel, as_latin1);
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let mut bytes = rss("", &format!("{TITLE} \u{0}")).into_bytes();
    let nul = bytes.iter().position(|&b| b == 0).expect("marker");
    bytes[nul] = 0xFF;
    for prolog in ["", UTF8_DECL] {
        let bytes = [prolog.as_bytes(), &bytes].concat();
        let (decoded, parsed) = read_feed(&bytes, None);
        let decided = if prolog.is_empty() {
            Decided::Utf8
        } else {
            Decided::XmlDeclaration
        };
        assert_eq!((decoded.decided, decoded.encoding), (decided, UTF_8));
        assert!(decoded.had_errors);
        let parsed = parsed.expect("parses");
        assert_eq!(parsed.channel, TITLE);
        assert_eq!(parsed.items, [format!("{TITLE} \u{FFFD}")]);
    }
}

#[test]
fn odd_utf16_length_is_an_error_not_a_panic() {
    let mut bytes = utf16le(&rss(UTF16_DECL, TITLE), true);
    bytes.push(b'x');
    let decoded = xml_to_utf8(&bytes, None);
    assert!(decoded.had_errors);
    assert!(decoded.text.ends_with("</rss>\u{FFFD}"));
}

#[test]
fn billion_laughs_never_expands() {
    let mut doctype = String::from("<!DOCTYPE rss [<!ENTITY lol0 \"lol\">");
    for level in 1..10 {
        let refs = format!("&lol{};", level - 1).repeat(10);
        doctype.push_str(&format!("<!ENTITY lol{level} \"{refs}\">"));
    }
    doctype.push_str("]>");
    let doc = rss(&format!("{UTF8_DECL}\n{doctype}\n"), "&lol9;");
    let started = Instant::now();
    let (decoded, parsed) = read_feed(doc.as_bytes(), None);
    assert!(started.elapsed() < Duration::from_secs(5));
    let stripped = strip_doctype(&decoded.text);
    assert!(!stripped.contains("ENTITY"));
    assert!(stripped.len() < doc.len());
    let parsed = parsed.expect("parses");
    assert_eq!(parsed.channel, TITLE);
    assert!(
        parsed.items.iter().all(|title| title.len() < 20),
        "{parsed:?}"
    );
}

#[test]
fn external_entity_is_never_resolved() {
    let doctype = "<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>";
    let doc = rss(&format!("{UTF8_DECL}{doctype}"), "&xxe;");
    let (decoded, parsed) = read_feed(doc.as_bytes(), None);
    assert!(!strip_doctype(&decoded.text).contains("passwd"));
    let parsed = parsed.expect("parses");
    assert_eq!(parsed.channel, TITLE);
    assert!(!format!("{parsed:?}").contains("root:"));
}

#[test]
fn late_declaration_in_the_body_is_dropped() {
    let item = format!("a{LATIN1_DECL}b");
    let (decoded, parsed) = read_feed(rss(UTF8_DECL, &item).as_bytes(), None);
    assert_eq!(decoded.text.matches("<?xml").count(), 1);
    assert_eq!(parsed.expect("parses").items, ["ab"]);
}

#[test]
fn declaration_text_in_cdata_and_comments_is_kept() {
    let cdata = format!("<![CDATA[{LATIN1_DECL}]]><!-- {LATIN1_DECL} -->");
    let doc = rss(UTF8_DECL, &cdata);
    let (decoded, parsed) = read_feed(doc.as_bytes(), None);
    assert_eq!(decoded.text, doc);
    assert_eq!(parsed.expect("parses").items, [LATIN1_DECL]);
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 200_000;
    let body = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let doc = rss(UTF8_DECL, &body);
    let started = Instant::now();
    let (decoded, parsed) = read_feed(doc.as_bytes(), None);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(decoded.text, doc);
    // feed-rs 3.0 refuses depths over 65535; a later version that reads it must still read it right.
    if let Ok(parsed) = parsed {
        assert_eq!(parsed.channel, TITLE);
    }
}

#[test]
fn fifty_megabyte_single_line_legacy_document() {
    let sentence = "Un café très naïf à Noël – voilà l'été. ";
    let unit = windows_1252(sentence);
    let repeats = (50 << 20) / unit.len() + 1;
    let head = format!(
        "<rss version=\"2.0\"><channel><title>{TITLE}</title><item><title>{TITLE}</title><description>"
    );
    let tail = "</description></item></channel></rss>";
    let bytes = [
        windows_1252(&head),
        unit.repeat(repeats),
        windows_1252(tail),
    ]
    .concat();
    assert!(bytes.len() > 50 << 20 && !bytes.contains(&b'\n'));
    let (decoded, parsed) = read_feed(&bytes, None);
    assert_eq!(
        (decoded.decided, decoded.encoding),
        (Decided::Detected, WINDOWS_1252)
    );
    assert!(!decoded.had_errors);
    assert_eq!(
        decoded.text.len(),
        head.len() + sentence.len() * repeats + tail.len()
    );
    let parsed = parsed.expect("parses");
    assert_eq!(parsed.items, [TITLE]);
    let summary = &parsed.summaries[0];
    assert_eq!(
        summary.len(),
        sentence.len() * repeats - 1,
        "less the trailing space"
    );
    assert!(summary.starts_with(sentence) && summary.ends_with(sentence.trim_end()));
}

#[test]
fn ten_megabyte_title() {
    let title = format!("{TITLE} {}", "x".repeat(10 << 20));
    let (_, parsed) = read_feed(rss(UTF8_DECL, &title).as_bytes(), None);
    let parsed = parsed.expect("parses");
    assert_eq!(parsed.channel, TITLE);
    assert_eq!(parsed.items, [title]);
}

#[test]
fn json_feed_passes_through() {
    let embedded = "<?xml version='1.0' encoding='ISO-8859-1'?>";
    let json = format!(
        "\u{FEFF}\n{{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"{TITLE}\", \
        \"items\": [{{\"id\": \"1\", \"title\": \"{TITLE}\", \"content_html\": \"{embedded}\"}}]}}"
    );
    let (decoded, parsed) = read_feed(json.as_bytes(), Some("application/feed+json"));
    assert_eq!(decoded.text, json.trim_start_matches(['\u{FEFF}', '\n']));
    let parsed = parsed.expect("parses");
    assert_eq!(parsed.channel, TITLE);
    assert_eq!(parsed.items, [TITLE]);
}

#[test]
fn html_served_as_a_feed_is_an_error() {
    let page = b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Home</title></head>\
        <body><p>Hello<br>world</p></body></html>";
    let (decoded, parsed) = read_feed(page, Some("text/html; charset=utf-8"));
    assert_eq!(decoded.decided, Decided::HttpCharset);
    assert!(parsed.is_err());
}

/// xorshift64*: reproducible noise without a dependency.
fn noise(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn random_bytes_never_panic() {
    // Bytes that steer the sniffers: BOMs, UTF-16 zeros, markup and declaration text.
    const PIECES: &[&[u8]] = &[
        b"\xEF\xBB\xBF",
        b"\xFF\xFE",
        b"\xFE\xFF",
        b"\0",
        b"<",
        b">",
        b"?",
        b"<?xml ",
        b"?>",
        b"encoding=\"",
        b"\"",
        b"'",
        b"latin1",
        b"utf-16",
        b"<!DOCTYPE r [",
        b"]",
        b"<!--",
        b"-->",
        b"<![CDATA[",
        b"]]>",
        b"<meta charset=",
        b"<rss>",
        b"\xE9",
        b"\xC3",
        b"\x96",
        b" ",
        b"\n",
        b"http-equiv=content-type content=",
    ];
    let content_types = [
        None,
        Some("text/xml; charset=utf-16be"),
        Some("text/html; charset=\""),
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15;
    for round in 0..3000 {
        let len = (noise(&mut state) % 700) as usize;
        let mut bytes = Vec::with_capacity(len);
        while bytes.len() < len {
            let n = noise(&mut state);
            if n.is_multiple_of(3) {
                bytes.extend_from_slice(PIECES[(n >> 8) as usize % PIECES.len()]);
            } else {
                bytes.push((n >> 16) as u8);
            }
        }
        let content_type = content_types[round % content_types.len()];
        let (decoded, _) = read_feed(&bytes, content_type);
        assert!(!decoded.text.starts_with('\u{FEFF}'));
        let html = html_to_utf8(&bytes, content_type);
        assert!(!html.text.starts_with('\u{FEFF}'));
        for cut in [1, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            let head = bytes.get(..cut).unwrap_or_default();
            let _ = strip_doctype(&String::from_utf8_lossy(head));
        }
    }
}

#[test]
fn strip_doctype_leaves_documents_without_one_alone() {
    let doc = rss(UTF8_DECL, "<!DOCTYPE not-in-the-prolog>");
    assert!(matches!(strip_doctype(&doc), Cow::Borrowed(_)));
}

#[test]
fn strip_doctype_reads_literals_comments_and_instructions() {
    let doctype = "<!DOCTYPE rss PUBLIC \"-//x>y//EN\" 'a]b' [\n\
        <!ENTITY a \"]>\"> <!-- ]> --> <?pi ]> ?> <!ENTITY b '>]'>\n]  >";
    let doc = format!("{UTF8_DECL}\n<!-- c --><?pi x?>{doctype}<rss/>");
    let expected = format!("{UTF8_DECL}\n<!-- c --><?pi x?><rss/>");
    assert_eq!(strip_doctype(&doc), expected);
    let twice = "<!doctype a><!DOCTYPE b [<!ENTITY c 'd'>]><rss/>";
    assert_eq!(strip_doctype(twice), "<rss/>");
    assert_eq!(
        strip_doctype("<!DOCTYPE rss [<!ENTITY a \"never closed"),
        ""
    );
}

#[test]
fn prolog_without_declaration_keeps_its_markup() {
    let decoded = xml_to_utf8(
        b"\xEF\xBB\xBF \n<?xml-stylesheet href=\"s.xsl\"?><rss/>",
        None,
    );
    assert_eq!(decoded.text, "<?xml-stylesheet href=\"s.xsl\"?><rss/>");
    let decoded = xml_to_utf8(b"<?xml?><rss/>", None);
    assert_eq!(decoded.text, format!("{UTF8_DECL}<rss/>"));
    let standalone = "<?xml version='1.0' encoding='utf-8' standalone='yes' ?><rss/>";
    assert_eq!(
        xml_to_utf8(standalone.as_bytes(), None).text,
        format!("{UTF8_DECL}<rss/>")
    );
}

#[test]
fn labels_that_would_erase_the_document_are_ignored() {
    let doc = rss("", TITLE);
    assert_reads(
        doc.as_bytes(),
        Some("text/xml; charset=iso-2022-kr"),
        Decided::Utf8,
    );
    assert_reads(
        doc.as_bytes(),
        Some("text/xml; charset=no-such-thing"),
        Decided::Utf8,
    );
}

fn page(head: &str, title: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head>{head}<title>{title}</title></head><body>{TITLE}</body></html>"
    )
}

#[test]
fn html_meta_charset() {
    let bytes = windows_1252(&page("<meta charset=\"windows-1252\">", TITLE));
    let decoded = html_to_utf8(&bytes, Some("text/html"));
    assert_eq!(
        (decoded.decided, decoded.encoding),
        (Decided::MetaCharset, WINDOWS_1252)
    );
    assert_eq!(decoded.text, page("<meta charset=\"windows-1252\">", TITLE));
    let unquoted = windows_1252(&page("<META Charset=windows-1252 />", TITLE));
    assert_eq!(html_to_utf8(&unquoted, None).decided, Decided::MetaCharset);
}

#[test]
fn html_meta_http_equiv() {
    let meta =
        "<meta name=x http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">";
    let decoded = html_to_utf8(&windows_1252(&page(meta, TITLE)), None);
    assert_eq!(
        (decoded.decided, decoded.encoding),
        (Decided::MetaCharset, WINDOWS_1252)
    );
    assert_eq!(decoded.text, page(meta, TITLE));
    let without_pragma = "<meta content=\"text/html; charset=iso-8859-1\">";
    let decoded = html_to_utf8(page(without_pragma, TITLE).as_bytes(), None);
    assert_eq!(decoded.decided, Decided::Utf8);
}

#[test]
fn html_http_charset_beats_meta() {
    let doc = page("<meta charset=\"windows-1252\">", TITLE);
    let decoded = html_to_utf8(doc.as_bytes(), Some("text/html; charset=UTF-8"));
    assert_eq!(
        (decoded.decided, decoded.encoding),
        (Decided::HttpCharset, UTF_8)
    );
    assert_eq!(decoded.text, doc);
}

#[test]
fn html_bom_beats_everything() {
    let doc = page("<meta charset=\"windows-1252\">", TITLE);
    let http = Some("text/html; charset=iso-8859-1");
    let decoded = html_to_utf8(&with_utf8_bom(&doc), http);
    assert_eq!(
        (decoded.decided, decoded.text.as_str()),
        (Decided::Bom, doc.as_str())
    );
    let decoded = html_to_utf8(&utf16le(&doc, true), http);
    assert_eq!(
        (decoded.decided, decoded.text.as_str()),
        (Decided::Bom, doc.as_str())
    );
}

#[test]
fn html_meta_outside_the_prescan_or_in_a_comment_is_not_read() {
    let hidden = "<!-- <meta charset=\"koi8-r\"> --><link rel=x title='<meta charset=koi8-r>'>";
    let decoded = html_to_utf8(&windows_1252(&page(hidden, TITLE)), None);
    assert_eq!(decoded.decided, Decided::Detected);
    let late = format!("<!-- {} --><meta charset=\"koi8-r\">", "x".repeat(1100));
    let decoded = html_to_utf8(page(&late, TITLE).as_bytes(), None);
    assert_eq!(decoded.decided, Decided::Utf8);
}

#[test]
fn html_meta_naming_utf16_means_utf8() {
    let doc = page("<meta charset=\"utf-16\">", TITLE);
    let decoded = html_to_utf8(doc.as_bytes(), None);
    assert_eq!(
        (decoded.decided, decoded.encoding),
        (Decided::MetaCharset, UTF_8)
    );
    assert_eq!(decoded.text, doc);
}
