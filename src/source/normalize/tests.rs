use super::*;

fn norm(text: &str) -> (String, Vec<String>) {
    let n = xml(text);
    (n.xml.into_owned(), n.warnings)
}

#[test]
fn a_well_formed_rss_2_feed_is_not_copied() {
    let text = "<rss version=\"2.0\"><channel><title>t &amp; u</title>\
                <item><description><![CDATA[<p>x</p>]]></description></item></channel></rss>";
    let n = xml(text);
    assert!(matches!(n.xml, Cow::Borrowed(_)));
    assert!(n.warnings.is_empty());
}

#[test]
fn bare_ampersands_and_html_entities() {
    let (out, warnings) = norm(
        "<rss version=\"2.0\"><channel><title>A & B&nbsp;&mdash; &lol; &#0; &#x41;</title></channel></rss>",
    );
    assert_eq!(
        out,
        "<rss version=\"2.0\"><channel><title>A &amp; B\u{a0}\u{2014} &amp;lol; \u{FFFD} &#x41;</title></channel></rss>"
    );
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("1 bare '&'"), "{warnings:?}");
    assert!(warnings[0].contains("(&lol;)"), "{warnings:?}");
}

#[test]
fn elements_left_open_are_closed_and_stray_ends_dropped() {
    let (out, warnings) = norm("<rss version=\"2.0\"><channel></b><item><title>x</item>");
    assert_eq!(
        out,
        "<rss version=\"2.0\"><channel><item><title>x</title></item></channel></rss>"
    );
    assert!(warnings[0].contains("stray end tags"), "{warnings:?}");
}

#[test]
fn a_cut_off_tag_at_the_end_is_dropped() {
    let (out, _) = norm("<rss version=\"2.0\"><channel><item><title>x</title></it");
    assert_eq!(
        out,
        "<rss version=\"2.0\"><channel><item><title>x</title></item></channel></rss>"
    );
}

#[test]
fn control_characters_go() {
    let (out, warnings) =
        norm("<rss version=\"2.0\"><channel><title>a\u{1}b\u{1b}</title></channel></rss>");
    assert!(out.contains("<title>ab</title>"));
    assert!(warnings[0].contains("2 control characters"));
}

#[test]
fn rss_of_any_version_reads_as_2_0() {
    for root in [
        "<rss>",
        "<rss version=\"0.91\">",
        "<rss version=\"0.94\" xmlns:dc=\"x\">",
    ] {
        let (out, warnings) = norm(&format!("{root}<channel></channel></rss>"));
        assert!(out.starts_with("<rss version=\"2.0\""), "{out}");
        assert!(warnings.is_empty());
    }
}

#[test]
fn rdf_items_move_into_the_channel() {
    let (out, _) = norm(
        "<rdf:RDF xmlns:rdf=\"r\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\">\
         <channel><title>c</title></channel><item><title>i</title></item></rdf:RDF>",
    );
    assert_eq!(
        out,
        "<rss version=\"2.0\" xmlns:rdf=\"r\" xmlns=\"http://purl.org/rss/1.0/\"><channel>\
         <title>c</title><item><title>i</title></item></channel></rss>"
    );
}

#[test]
fn raw_html_in_a_description_becomes_cdata() {
    let (out, _) = norm(
        "<rss version=\"2.0\"><channel><item><description>Hi <b>there</b><br> &amp; <![CDATA[x]]></description></item></channel></rss>",
    );
    assert!(
        out.contains("<description><![CDATA[Hi <b>there</b><br> &amp; x]]></description>"),
        "{out}"
    );
}

#[test]
fn atom_0_3_becomes_atom_1_0() {
    let (out, _) = norm(
        "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline>t</tagline>\
         <entry><issued>2004-01-01T00:00:00Z</issued><created>2003-01-01T00:00:00Z</created>\
         <modified>2004-02-01T00:00:00Z</modified>\
         <content type=\"text/html\" mode=\"escaped\">&lt;p&gt;x&lt;/p&gt;</content></entry></feed>",
    );
    assert_eq!(
        out,
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><subtitle type=\"text\">t</subtitle>\
         <entry><published>2004-01-01T00:00:00Z</published><created>2003-01-01T00:00:00Z</created>\
         <updated>2004-02-01T00:00:00Z</updated>\
         <content type=\"html\">&lt;p&gt;x&lt;/p&gt;</content></entry></feed>"
    );
}

#[test]
fn base64_content_is_decoded() {
    let (out, _) = norm(
        "<feed xmlns=\"http://purl.org/atom/ns#\"><entry>\
         <content type=\"text/html\" mode=\"base64\">PHA+SGVsbG88L3A+</content></entry></feed>",
    );
    assert!(
        out.contains("<content type=\"html\"><![CDATA[<p>Hello</p>]]></content>"),
        "{out}"
    );
}

#[test]
fn cdf_becomes_rss() {
    let (out, _) = norm(
        "<CHANNEL HREF=\"http://e.org/\"><TITLE>C</TITLE>\
         <ITEM HREF=\"http://e.org/1\" LASTMOD=\"2004-01-01T00:00\"><TITLE>One</TITLE>\
         <ABSTRACT>A</ABSTRACT></ITEM></CHANNEL>",
    );
    assert_eq!(
        out,
        "<rss version=\"2.0\"><channel><link>http://e.org/</link><title>C</title>\
         <item><link>http://e.org/1</link><updated>2004-01-01T00:00</updated><title>One</title>\
         <description>A</description></item></channel></rss>"
    );
}

#[test]
fn normalising_twice_changes_nothing_more() {
    for text in [
        "<rss><channel><item><title>A & B <i>x</title></channel>",
        "<CHANNEL><ITEM HREF=\"a&b\"><TITLE>t</TITLE></ITEM><CHANNEL><ITEM/></CHANNEL></CHANNEL>",
        "<feed xmlns=\"http://purl.org/atom/ns#\"><entry><title mode=\"escaped\" type=\"text/html\">&lt;b&gt;x</title><content mode=\"base64\">eA==</content></entry>",
        "<rdf:RDF><channel/><item><title>x</title></item>",
    ] {
        let once = norm(text).0;
        let twice = norm(&once).0;
        assert_eq!(once, twice, "{text}");
    }
}

#[test]
fn content_elsewhere_is_empty_and_typed_by_media_type() {
    let (out, _) = norm(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>\
         <content type=\"html\" src=\"http://e.org/a\">stray text</content></entry></feed>",
    );
    assert!(
        out.contains("<content type=\"text/html\" src=\"http://e.org/a\"/></entry>"),
        "{out}"
    );
}

#[test]
fn markup_nested_past_any_story_is_not_wrapped() {
    let deep = format!(
        "<rss version=\"2.0\"><channel><item><description>{}x{}</description></item></channel></rss>",
        "<b>".repeat(600),
        "</b>".repeat(600)
    );
    let (out, warnings) = norm(&deep);
    assert_eq!(out, deep);
    assert!(warnings.is_empty());
    let shallow = deep
        .replace(&"<b>".repeat(600), "<b>")
        .replace(&"</b>".repeat(600), "</b>");
    assert!(norm(&shallow).0.contains("<![CDATA[<b>x</b>]]>"));
}

#[test]
fn a_document_nested_past_any_feed_is_read_as_it_is() {
    let deep = format!(
        "<rss version=\"0.91\"><channel><item><title>A & B</title><description>{}",
        "<div>".repeat(20_000)
    );
    let n = xml(&deep);
    assert!(matches!(n.xml, Cow::Borrowed(_)));
    assert_eq!(
        n.warnings,
        ["elements nested more than 10000 deep: read without repairs"]
    );
}

#[test]
fn legacy_entities_without_a_semicolon_decode_as_in_a_browser() {
    let (out, warnings) = norm(
        "<rss version=\"2.0\"><channel><title>Caf&eacute &copy 2025 AT&T &amp</title>\
         <link>http://e.org/?a=1&copy=2&not3</link></channel></rss>",
    );
    assert!(
        out.contains("<title>Caf\u{e9} \u{a9} 2025 AT&amp;T &amp;</title>"),
        "{out}"
    );
    assert!(
        out.contains("<link>http://e.org/?a=1&amp;copy=2&amp;not3</link>"),
        "{out}"
    );
    assert!(
        warnings[0].contains("3 HTML entities decoded"),
        "{warnings:?}"
    );
}
