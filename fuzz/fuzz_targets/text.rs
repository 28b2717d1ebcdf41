//! Markup reduced to text: never panics, and folding is idempotent.
#![no_main]

use feedwatch::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let plain = text::html_to_text(input);
    assert_eq!(text::fold(&plain), plain, "html_to_text output is folded");
    let line = text::single_line(input);
    assert!(!line.contains('\n'));
    let folded = text::fold(input);
    assert_eq!(text::fold(&folded), folded);
});
