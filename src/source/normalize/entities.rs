//! Entities as browsers read them, for text XML would reject: the legacy
//! ones written without a semicolon, and which characters XML allows at all.

/// HTML's Latin-1 entities, U+00A0 to U+00FF in order: the ones browsers
/// still decode in text without their semicolon.
const LATIN1_ENTITIES: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// The other entities browsers decode without a semicolon.
const OTHER_LEGACY_ENTITIES: [(&str, char); 10] = [
    ("amp", '&'),
    ("AMP", '&'),
    ("lt", '<'),
    ("LT", '<'),
    ("gt", '>'),
    ("GT", '>'),
    ("quot", '"'),
    ("QUOT", '"'),
    ("COPY", '\u{a9}'),
    ("REG", '\u{ae}'),
];

/// The longest legacy entity `rest` starts with (after its `&`), as a
/// browser reads `&copy 2025` or `&eacute`: its length and character. As in
/// an attribute, one followed by a letter, digit or `=` stays text, so a
/// query string such as `?a=1&copy=2` keeps its meaning.
pub(super) fn legacy_entity(rest: &[u8]) -> Option<(usize, char)> {
    let latin1 = LATIN1_ENTITIES
        .iter()
        .zip('\u{a0}'..='\u{ff}')
        .map(|(name, c)| (*name, c));
    let (name, c) = latin1
        .chain(OTHER_LEGACY_ENTITIES)
        .filter(|(name, _)| rest.starts_with(name.as_bytes()))
        .max_by_key(|(name, _)| name.len())?;
    let next = rest.get(name.len()).copied().unwrap_or(b' ');
    (!(next.is_ascii_alphanumeric() || next == b'=')).then_some((name.len(), c))
}

/// Characters XML 1.0 allows.
pub(super) fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
}
