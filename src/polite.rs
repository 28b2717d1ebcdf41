//! Politeness limits: how many polls may be in flight overall and per host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits for one poll; dropping them frees the slots.
pub struct Slot {
    _global: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
}

pub struct Limits {
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    pub fn new(concurrency: usize, per_host: usize) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a free slot overall and on `host`. The host slot is taken
    /// first so a busy host does not hold global slots others could use.
    pub async fn acquire(&self, host: &str) -> Option<Slot> {
        let host_sem = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                hosts
                    .entry(host.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            )
        };
        let host = host_sem.acquire_owned().await.ok()?;
        let global = Arc::clone(&self.global).acquire_owned().await.ok()?;
        Some(Slot {
            _global: global,
            _host: host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn per_host_limit_holds_while_other_hosts_proceed() {
        let limits = Limits::new(4, 1);
        let first = limits.acquire("a.example").await;
        assert!(first.is_some());
        let blocked = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            limits.acquire("a.example"),
        )
        .await;
        assert!(blocked.is_err(), "a second slot on the same host must wait");
        let other = limits.acquire("b.example").await;
        assert!(other.is_some());
        drop(first);
        assert!(limits.acquire("a.example").await.is_some());
    }
}
