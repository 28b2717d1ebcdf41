//! Errors as people read them: one line, the outer error first, then each
//! cause that adds something.

use std::error::Error;

/// Joins an error and its causes into one line: "outer: inner: root".
pub fn error_chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}
