//! Page extraction: any bytes, any of a few selector choices, never a panic;
//! the text is deterministic and already folded (no blank or padded lines).
#![no_main]

use feedwatch::source::page;
use feedwatch::text;
use libfuzzer_sys::fuzz_target;

const CHOICES: [(&[&str], &[&str]); 4] = [
    (&[], &[]),
    (&["article"], &["nav", "footer", ".ad"]),
    (&["main p", "#content"], &["script"]),
    (&["div > ul li:nth-child(2)"], &[]),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (select, exclude) = CHOICES[usize::from(selector) % CHOICES.len()];
    let select: Vec<String> = select.iter().map(|s| s.to_string()).collect();
    let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
    let first = page::extract_text(body, Some("text/html"), &select, &exclude);
    let second = page::extract_text(body, Some("text/html"), &select, &exclude);
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "extraction is deterministic");
            assert_eq!(&text::fold(a), a, "extracted text is folded");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("the same page read twice gave different outcomes"),
    }
    let base = url::Url::parse("https://example.org/news/story").ok();
    let _ = page::article_text(body, None, base.as_ref(), None);
});
