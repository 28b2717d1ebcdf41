//! How long the diffs of a poll take on big documents: a 5 MB page with one
//! paragraph changed, and inputs built to be as hard as possible for a line
//! diff. Prints milliseconds; run with `cargo bench --bench diff`. Under
//! `cargo test` it only checks a small diff and measures nothing.

use std::time::{Duration, Instant};

use feedwatch::diff;

/// A page of `bytes` of distinct paragraphs, one per line.
fn page(bytes: usize, seed: u64) -> String {
    let words = [
        "council",
        "children",
        "social",
        "workers",
        "caseloads",
        "families",
        "fostering",
        "review",
        "practice",
        "the",
        "a",
        "of",
        "and",
        "to",
        "in",
        "report",
        "funding",
    ];
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::with_capacity(bytes + 200);
    let mut n = 0;
    while out.len() < bytes {
        n += 1;
        out.push_str(&format!("Paragraph {n}:"));
        for _ in 0..(20 + next() % 30) {
            out.push(' ');
            out.push_str(words[(next() % words.len() as u64) as usize]);
        }
        out.push_str(".\n");
    }
    out
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(f());
        best = best.min(started.elapsed());
    }
    println!(
        "{label:<58} {:>9.1} ms (best of {runs})",
        best.as_secs_f64() * 1e3
    );
    best
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        let before = page(50 * 1024, 7);
        let after = before.replacen("Paragraph 10:", "Paragraph ten:", 1);
        let d = diff::unified(&before, &after);
        assert!(d.contains("\n-Paragraph 10:") && d.contains("\n+Paragraph ten:"));
        println!("diff: a small diff checked (run `cargo bench --bench diff` to measure)");
        return;
    }
    let before = page(5 * 1024 * 1024, 7);
    let middle = before.len() / 2;
    let start = before[..middle].rfind('\n').map_or(0, |i| i + 1);
    let end = start + before[start..].find('\n').unwrap_or(0);
    let after = format!(
        "{}The council said the figures had been corrected.{}",
        &before[..start],
        &before[end..]
    );
    println!("5 MB page ({} bytes), one paragraph changed:", before.len());
    time("  unified diff", 5, || diff::unified(&before, &after));
    time("  edit (bulk-change signature)", 5, || {
        diff::edit(&before, &after)
    });
    time("  equality check", 5, || before == after);

    let other = page(5 * 1024 * 1024, 11);
    println!("pathological: two unrelated 5 MB pages, every line different:");
    time("  unified diff", 1, || diff::unified(&before, &other));
    let reversed: String = before.lines().rev().flat_map(|l| [l, "\n"]).collect();
    println!("pathological: the same 5 MB page with its lines reversed:");
    time("  unified diff", 1, || diff::unified(&before, &reversed));
    let alternating_a: String = (0..300_000)
        .map(|i| if i % 2 == 0 { "a\n" } else { "b\n" })
        .collect();
    let alternating_b: String = (0..300_000)
        .map(|i| if i % 3 == 0 { "a\n" } else { "b\n" })
        .collect();
    println!("pathological: 300,000 short lines of two repeating values:");
    time("  unified diff", 1, || {
        diff::unified(&alternating_a, &alternating_b)
    });
}
