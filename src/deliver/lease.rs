//! One deliverer per sink, across processes: a sink's events are sent only
//! by the process holding its lease (kept in the database, see
//! `store/lease.rs`). The daemon holds its sinks' leases while it runs; a
//! `check` beside it records its changes and leaves their delivery to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::error_chain;
use crate::store::Shared;

use crate::store::{Holder, Lease, Store, StoreError, Taken};

/// How long a lease lasts unless renewed. A holder that dies without
/// releasing it (SIGKILL, power loss) is replaced after this at the
/// latest; sooner when its process can be seen to be gone.
pub const TTL: Duration = Duration::from_secs(120);

/// How often the daemon renews its leases (and asks for those it lacks).
pub const RENEW: Duration = Duration::from_secs(10);

/// The least lease time left for a send to start: a send never outlives
/// the lease it started under, even when renewals stall.
const MARGIN: Duration = Duration::from_secs(30);

/// The most lease time left a send waits for, whatever its timeout.
const LONGEST_WAIT: Duration = TTL.saturating_sub(RENEW.saturating_mul(2));

/// This process's leases, as far as it knows.
pub struct Leases {
    me: Holder,
    /// Until when each held sink is ours (by this process's clock).
    held: Mutex<HashMap<String, Instant>>,
    /// Sinks another process holds, with what it is (`daemon`, `check`).
    elsewhere: Mutex<HashMap<String, String>>,
}

impl Leases {
    /// Leases for this process, in the given role.
    pub fn new(role: &str) -> Leases {
        Leases {
            me: Holder {
                id: ulid::Ulid::new().to_string(),
                role: role.to_string(),
                pid: std::process::id(),
                boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
                pid_ns: std::fs::read_link("/proc/self/ns/pid")
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            },
            held: Mutex::new(HashMap::new()),
            elsewhere: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this process may send `sink`'s events now, with time left
    /// for a send of up to `send` to finish within the lease.
    pub fn holds_for(&self, sink: &str, send: Duration) -> bool {
        // A holder renews every RENEW, so a fresh lease never has more than
        // TTL - RENEW left: a longer send (a webhook timeout of minutes) asks
        // for no more than that, relying on the renewals while it runs.
        let need = send.clamp(MARGIN, LONGEST_WAIT);
        crate::sync::lock(&self.held)
            .get(sink)
            .is_some_and(|until| until.saturating_duration_since(Instant::now()) > need)
    }

    pub fn holds(&self, sink: &str) -> bool {
        self.holds_for(sink, Duration::ZERO)
    }

    /// Takes or renews the leases of `sinks`; returns the sinks newly held.
    pub fn take(&self, store: &mut Store, sinks: &[String]) -> Result<Vec<String>, StoreError> {
        let asked = Instant::now();
        let me = &self.me;
        let taken = store.take_leases(sinks, me, Utc::now(), TTL, |lease| gone(lease, me))?;
        let mut held = crate::sync::lock(&self.held);
        let mut elsewhere = crate::sync::lock(&self.elsewhere);
        let mut new = Vec::new();
        for (sink, taken) in sinks.iter().zip(taken) {
            match taken {
                Taken::Held => {
                    if held.insert(sink.clone(), asked + TTL).is_none() {
                        new.push(sink.clone());
                    }
                    elsewhere.remove(sink);
                }
                Taken::Elsewhere(lease) => {
                    held.remove(sink);
                    elsewhere.insert(sink.clone(), lease.holder.role);
                }
            }
        }
        held.retain(|sink, _| sinks.contains(sink));
        elsewhere.retain(|sink, _| sinks.contains(sink));
        Ok(new)
    }

    /// What holds `sink` when another process does.
    pub fn holder_of(&self, sink: &str) -> Option<String> {
        crate::sync::lock(&self.elsewhere).get(sink).cloned()
    }

    /// Gives up every lease; another process may deliver at once.
    pub fn release(&self, store: &mut Store) -> Result<(), StoreError> {
        crate::sync::lock(&self.held).clear();
        store.release_leases(&self.me)
    }

    /// Gives up the leases of sinks no longer configured.
    pub fn keep_only(&self, store: &mut Store, sinks: &[String]) -> Result<(), StoreError> {
        crate::sync::lock(&self.held).retain(|sink, _| sinks.contains(sink));
        store.release_leases_except(&self.me, sinks)
    }
}

/// Takes or renews the leases of every configured sink; for each sink
/// newly taken, first settles what its last holder left half-done (see
/// [`super::recover_log_sinks`]). Returns the sinks newly taken.
pub async fn take_all(
    leases: &Arc<Leases>,
    store: &Shared,
    config: &Arc<Config>,
) -> Result<Vec<String>, String> {
    let (leases, config) = (Arc::clone(leases), Arc::clone(config));
    let taken = store
        .run(move |s| {
            let sinks: Vec<String> = config.sinks.iter().map(|k| k.name.clone()).collect();
            let new = leases.take(s, &sinks)?;
            Ok(super::recover_log_sinks(s, &config, &new).map(|n| (new, n)))
        })
        .await
        .map_err(|e| error_chain(&e))?;
    let (new, recovered) = taken.map_err(|e| error_chain(&e))?;
    if recovered > 0 {
        tracing::info!(
            events = recovered,
            "events a stopped process appended but had not marked delivered are marked now"
        );
    }
    Ok(new)
}

/// The daemon's lease keeper: every [`RENEW`], renews the leases it holds
/// and takes those it lacks (a `check` that held one has finished, a
/// killed holder has lapsed), waking the sink workers when it gains one.
pub async fn keep(
    leases: Arc<Leases>,
    store: Shared,
    config: Arc<Config>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(RENEW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        match take_all(&leases, &store, &config).await {
            Ok(new) if !new.is_empty() => {
                tracing::info!(sinks = %new.join(", "), "now delivering these sinks' events");
                wake.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot renew the sinks' leases: {e}"),
        }
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether a lease's holder has certainly stopped: the machine restarted
/// since it took the lease, or its process no longer exists. When that
/// cannot be told (another pid namespace, no /proc), the lease lapses on
/// its own.
fn gone(lease: &Lease, me: &Holder) -> bool {
    let holder = &lease.holder;
    if holder.boot_id.is_empty() || me.boot_id.is_empty() {
        return false;
    }
    if holder.boot_id != me.boot_id {
        return true;
    }
    if holder.pid_ns.is_empty() || holder.pid_ns != me.pid_ns {
        return false;
    }
    no_such_process(holder.pid)
}

/// Signal 0 asks the kernel whether a process exists without touching it;
/// only "no such process" counts (a process of another user answers
/// "not permitted", and is alive).
fn no_such_process(pid: u32) -> bool {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    match pid {
        Some(pid) => rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_gone_only_when_that_can_be_told() {
        let me = Leases::new("check").me;
        let lease = |pid: u32, boot: &str, ns: &str| Lease {
            sink: "journal".into(),
            holder: Holder {
                id: "other".into(),
                role: "daemon".into(),
                pid,
                boot_id: boot.into(),
                pid_ns: ns.into(),
            },
            expires_at: Utc::now(),
        };
        if me.boot_id.is_empty() || me.pid_ns.is_empty() {
            return;
        }
        let alive = lease(std::process::id(), &me.boot_id, &me.pid_ns);
        assert!(!gone(&alive, &me));
        // Past the kernel's largest pid: no such process.
        let dead = lease(4_194_305, &me.boot_id, &me.pid_ns);
        assert!(gone(&dead, &me));
        assert!(!gone(&lease(4_194_305, &me.boot_id, "pid:[1]"), &me));
        assert!(gone(
            &lease(std::process::id(), "another-boot", &me.pid_ns),
            &me
        ));
        assert!(!gone(&lease(4_194_305, "", ""), &me));
    }

    #[test]
    fn a_send_with_a_long_timeout_may_start_on_a_fresh_lease() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store =
            Store::open(&dir.path().join("feedwatch.db")).unwrap_or_else(|e| panic!("{e}"));
        let leases = Leases::new("daemon");
        let sinks = vec!["hook".to_string()];
        let taken = leases
            .take(&mut store, &sinks)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(taken, sinks);
        assert!(leases.holds_for("hook", Duration::from_secs(15)));
        assert!(leases.holds_for("hook", Duration::from_secs(600)));
        assert!(!leases.holds_for("other", Duration::ZERO));
    }
}
