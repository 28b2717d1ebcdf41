//! The one way a mutex is taken.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Takes a lock even when a thread panicked while holding it. Everything
/// guarded this way is left consistent between statements (a queue, a
/// schedule, a connection whose transaction rolls back on drop), and a
/// panic in one poll must not stop every other poll.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
