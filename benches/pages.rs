//! Page and article extraction on the four seed pages: parsing alone next to
//! the selected text (`select = "article"`, `exclude = [".advert"]`) and the
//! readability-style article text, measured in the same run and printed as
//! ratios. `cargo bench --bench pages` measures; under `cargo test` it only
//! checks that every page yields its story.

use std::hint::black_box;
use std::time::{Duration, Instant};

use feedwatch::source::page;

const PAGES: [&[u8]; 4] = [
    include_bytes!("../tests/fixtures/chamberlain-road-to-recovery.html"),
    include_bytes!("../tests/fixtures/communitycare-birmingham-frontline.html"),
    include_bytes!("../tests/fixtures/fostering-birmingham-trust.html"),
    include_bytes!("../tests/fixtures/frontline-expands-to-birmingham.html"),
];
const CONTENT_TYPE: &str = "text/html; charset=utf-8";

const ROUND: Duration = Duration::from_millis(400);
const ROUNDS: usize = 7;

/// The HTML parser alone: what every extraction pays first.
fn parse_only() -> usize {
    PAGES
        .iter()
        .map(|p| {
            let text = std::str::from_utf8(p).unwrap_or_default();
            dom_query::Document::from(text).select("p").length()
        })
        .sum()
}

fn selected() -> usize {
    let (select, exclude) = (["article".to_string()], [".advert".to_string()]);
    PAGES
        .iter()
        .map(|p| {
            page::extract_text(p, Some(CONTENT_TYPE), &select, &exclude).map_or(0, |t| t.len())
        })
        .sum()
}

fn readability() -> usize {
    let url = url::Url::parse("https://www.communitycare.co.uk/story/").ok();
    PAGES
        .iter()
        .map(|p| {
            page::article_text(p, Some(CONTENT_TYPE), url.as_ref(), None).map_or(0, |t| t.len())
        })
        .sum()
}

/// Pages per second of `work` (which reads all four) over one round.
fn pages_per_second(mut work: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < ROUND {
        black_box(work());
        runs += 1;
    }
    runs as f64 * PAGES.len() as f64 / start.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let select = ["article".to_string()];
    let exclude = [".advert".to_string()];
    for p in PAGES {
        let text = page::extract_text(p, Some(CONTENT_TYPE), &select, &exclude);
        let text = text.unwrap_or_else(|e| panic!("a seed page yields no text: {e}"));
        assert!(text.lines().count() > 5, "too little text: {text}");
        assert!(!text.contains("Start your fostering journey"));
    }
    assert!(readability() > 0);
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "pages: every seed page yields its story (run `cargo bench --bench pages` to measure)"
        );
        return;
    }
    let (mut parse, mut select_text, mut article) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        parse.push(pages_per_second(parse_only));
        select_text.push(pages_per_second(selected));
        article.push(pages_per_second(readability));
    }
    let (parse, select_text, article) = (median(parse), median(select_text), median(article));
    let bytes: usize = PAGES.iter().map(|p| p.len()).sum();
    println!("seed pages: 4 pages, {bytes} bytes, median of {ROUNDS} rounds");
    println!("HTML parse alone               {parse:8.0} pages/s");
    println!(
        "select + exclude -> text       {select_text:8.0} pages/s  ratio {:.2}",
        select_text / parse
    );
    println!(
        "readability article text       {article:8.0} pages/s  ratio {:.2}",
        article / parse
    );
}
