//! Normalisation reaches a fixed point in one pass: whatever a document
//! holds, normalising the result again changes nothing, and reports nothing
//! left to repair.

use feedwatch::source::normalize;
use proptest::prelude::*;

/// Pieces of feeds, well and badly formed, in every dialect.
const PIECES: &[&str] = &[
    "<rss>",
    "<rss version=\"0.91\">",
    "</rss>",
    "<channel>",
    "</channel>",
    "<item>",
    "</item>",
    "<title>",
    "</title>",
    "<description>",
    "</description>",
    "<link>",
    "</link>",
    "<b>",
    "</b>",
    "<br>",
    "<br/>",
    "<rdf:RDF xmlns=\"http://my.netscape.com/rdf/simple/0.9/\">",
    "</rdf:RDF>",
    "<feed xmlns=\"http://purl.org/atom/ns#\">",
    "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
    "</feed>",
    "<entry>",
    "</entry>",
    "<issued>",
    "</issued>",
    "<created>",
    "<content type=\"text/html\" mode=\"base64\">",
    "<content type=\"text/html\" mode=\"escaped\">",
    "<content type=\"xhtml\">",
    "<summary type=\"html\">",
    "</content>",
    "<CHANNEL HREF=\"http://e.org/?a=1&b=2\">",
    "<ITEM HREF=\"x\" LASTMOD=\"2004\">",
    "</ITEM>",
    "<TITLE>",
    "<ABSTRACT>",
    "</CHANNEL>",
    "&",
    "&amp;",
    "&nbsp;",
    "&AMP;",
    "&lol9;",
    "&#0;",
    "&#x41;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?pi x?>",
    "<",
    ">",
    "</",
    "\"",
    "'",
    " ",
    "text",
    "PHA+eDwvcD4=",
    "\u{1}",
    "é",
];

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalising_twice_is_normalising_once(text in document()) {
        let once = normalize::xml(&text);
        let twice = normalize::xml(&once.xml);
        prop_assert_eq!(&twice.xml, &once.xml);
        prop_assert!(twice.warnings.is_empty(), "still to repair: {:?}", twice.warnings);
    }

    #[test]
    fn any_document_reads_or_fails_cleanly(text in document()) {
        let _ = feedwatch::source::feed::parse(&text, None);
    }
}

/// Found by the property above: a tag left open by a stray quote and a CDATA
/// end once gained a closing tag on every pass.
#[test]
fn an_open_tag_with_a_stray_quote_and_cdata_end_settles() {
    let once = normalize::xml("<text\"]]>");
    let twice = normalize::xml(&once.xml);
    assert_eq!(twice.xml, once.xml);
    assert!(twice.warnings.is_empty(), "{:?}", twice.warnings);
}

/// Found by the property above: a quote inside a tag name with markup after it.
#[test]
fn a_quote_inside_a_tag_name_settles() {
    for text in ["<text\"<rss>\"-->", "<a\"b>c</a\"b>", "<x'<y>'>"] {
        let once = normalize::xml(text);
        let twice = normalize::xml(&once.xml);
        assert_eq!(twice.xml, once.xml, "{text}");
        assert!(twice.warnings.is_empty(), "{text}: {:?}", twice.warnings);
    }
}
