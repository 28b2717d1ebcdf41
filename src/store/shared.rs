//! The database as the program's tasks share it.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{Result, Store, StoreError};

/// One connection, shared by every task of a process. Async code reaches
/// it through [`Shared::run`], on the blocking pool, so no task ever waits
/// on SQLite while holding a runtime thread.
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Store>>);

impl Shared {
    pub fn new(store: Store) -> Shared {
        Shared(Arc::new(Mutex::new(store)))
    }

    /// The connection, for code already on a blocking thread.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        crate::sync::lock(&self.0)
    }

    /// Runs store work on the blocking pool.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = shared.lock();
            work(&mut store).map_err(|e| e.at(&store.path))
        })
        .await
        .map_err(StoreError::Task)?
    }
}
