//! How a test gives up on a value it needs: `.or_fail("what was being
//! done")` on a `Result` or an `Option`, so that the failure says what the
//! test was doing and, for a `Result`, what went wrong. Conditions are
//! asserted; only a `match` arm that has no value to give panics itself.

use std::fmt::Display;

pub trait OrFail<T> {
    /// The value, or a failed test naming `doing` (and the error, if any).
    #[track_caller]
    fn or_fail(self, doing: impl Display) -> T;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    #[track_caller]
    fn or_fail(self, doing: impl Display) -> T {
        match self {
            Ok(value) => value,
            Err(e) => panic!("{doing}: {e}"),
        }
    }
}

impl<T> OrFail<T> for Option<T> {
    #[track_caller]
    fn or_fail(self, doing: impl Display) -> T {
        match self {
            Some(value) => value,
            None => panic!("{doing}"),
        }
    }
}
