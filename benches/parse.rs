//! Parse throughput on the seed feed: plain feed-rs next to feedwatch's
//! normalisation in front of it, measured in the same run and printed as a
//! ratio. `cargo bench --bench parse` measures; under `cargo test` it only
//! checks that both read the same items.

use std::hint::black_box;
use std::time::{Duration, Instant};

use feedwatch::source::{dates, feed, normalize};

const SEED: &[u8] = include_bytes!("../tests/fixtures/communitycare-frontline.xml");
const CONTENT_TYPE: &str = "application/rss+xml; charset=UTF-8";

/// How long each contender runs per round, and how many rounds alternate.
const ROUND: Duration = Duration::from_millis(400);
const ROUNDS: usize = 7;

fn plain_feed_rs(bytes: &[u8]) -> usize {
    feed_rs::parser::parse(bytes).map_or(0, |f| f.entries.len())
}

/// The normalisation layer in front of feed-rs: the lenient pass, then
/// feed-rs reading dates with feedwatch's date parser.
fn normalised_feed_rs(text: &str) -> usize {
    let normalized = normalize::xml(text);
    feed_rs::parser::Builder::new()
        .timestamp_parser(dates::parse)
        .build()
        .parse(normalized.xml.as_bytes())
        .map_or(0, |f| f.entries.len())
}

/// The lenient pass alone.
fn normalise_only(text: &str) -> usize {
    normalize::xml(text).xml.len()
}

/// Everything a poll does to a body: decoding, normalisation, feed-rs, and
/// the reduction of every field to text.
fn full_read(bytes: &[u8]) -> usize {
    feed::read(bytes, Some(CONTENT_TYPE), None).map_or(0, |d| d.items.len())
}

/// Megabytes per second of `work` over one round.
fn throughput(mut work: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < ROUND {
        black_box(work());
        runs += 1;
    }
    let bytes = runs as f64 * SEED.len() as f64;
    bytes / start.elapsed().as_secs_f64() / 1e6
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let text = std::str::from_utf8(SEED).expect("the seed feed is UTF-8");
    let counts = [
        plain_feed_rs(SEED),
        normalised_feed_rs(text),
        full_read(SEED),
    ];
    assert!(
        counts.iter().all(|&n| n == counts[0] && n > 0),
        "the contenders read different items: {counts:?}"
    );
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "parse: all read {} items (run `cargo bench --bench parse` to measure)",
            counts[0]
        );
        return;
    }
    let mut rounds: [Vec<f64>; 4] = Default::default();
    for _ in 0..ROUNDS {
        rounds[0].push(throughput(|| plain_feed_rs(black_box(SEED))));
        rounds[1].push(throughput(|| normalised_feed_rs(black_box(text))));
        rounds[2].push(throughput(|| normalise_only(black_box(text))));
        rounds[3].push(throughput(|| full_read(black_box(SEED))));
    }
    let [plain, normalised, alone, full] = rounds.map(median);
    println!(
        "seed feed: {} bytes, {} items, median of {ROUNDS} rounds",
        SEED.len(),
        counts[0]
    );
    println!("feed-rs alone                  {plain:8.1} MB/s");
    println!(
        "normalisation + feed-rs        {normalised:8.1} MB/s  ratio {:.2}",
        normalised / plain
    );
    println!("normalisation alone            {alone:8.1} MB/s");
    println!(
        "full read, text reduced        {full:8.1} MB/s  ratio {:.2}",
        full / plain
    );
}
