//! Sink leases: the rows that say which process may deliver a sink's events.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sql::Stamp;
use super::{Result, Store};

/// A process as a lease names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Unique to this process's life.
    pub id: String,
    /// `daemon` or `check`: what others are told holds a sink.
    pub role: String,
    pub pid: u32,
    pub boot_id: String,
    pub pid_ns: String,
}

/// A sink's lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub sink: String,
    pub holder: Holder,
    pub expires_at: DateTime<Utc>,
}

/// What asking for a sink's lease came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// This process holds it until the given time.
    Held,
    /// Another process holds it.
    Elsewhere(Lease),
}

impl Store {
    /// Takes (or renews) the lease of each sink for `me` for `ttl`, in one
    /// write transaction: a sink nobody holds, whose lease lapsed, or whose
    /// holder `gone` says has died is taken; one held by a live process is
    /// left to it.
    pub fn take_leases(
        &mut self,
        sinks: &[String],
        me: &Holder,
        now: DateTime<Utc>,
        ttl: Duration,
        gone: impl Fn(&Lease) -> bool,
    ) -> Result<Vec<Taken>> {
        let until = now + chrono::Duration::from_std(ttl).unwrap_or_default();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut taken = Vec::with_capacity(sinks.len());
        for sink in sinks {
            let current = tx
                .prepare_cached(
                    "SELECT holder, role, pid, boot_id, pid_ns, expires_at
                     FROM sink_lease WHERE sink = ?1",
                )?
                .query_row([sink], |r| {
                    Ok(Lease {
                        sink: sink.clone(),
                        holder: Holder {
                            id: r.get(0)?,
                            role: r.get(1)?,
                            pid: r.get(2)?,
                            boot_id: r.get(3)?,
                            pid_ns: r.get(4)?,
                        },
                        expires_at: r.get::<_, Stamp>(5)?.0,
                    })
                })
                .optional()?;
            let free = match &current {
                None => true,
                Some(lease) => lease.holder.id == me.id || lease.expires_at <= now || gone(lease),
            };
            if !free {
                if let Some(lease) = current {
                    taken.push(Taken::Elsewhere(lease));
                }
                continue;
            }
            tx.prepare_cached(
                "INSERT INTO sink_lease (sink, holder, role, pid, boot_id, pid_ns, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(sink) DO UPDATE SET holder = excluded.holder, role = excluded.role,
                     pid = excluded.pid, boot_id = excluded.boot_id, pid_ns = excluded.pid_ns,
                     expires_at = excluded.expires_at",
            )?
            .execute(params![
                sink,
                me.id,
                me.role,
                me.pid,
                me.boot_id,
                me.pid_ns,
                Stamp(until)
            ])?;
            taken.push(Taken::Held);
        }
        tx.commit()?;
        Ok(taken)
    }

    /// Gives up every lease `me` holds.
    pub fn release_leases(&mut self, me: &Holder) -> Result<()> {
        self.conn
            .execute("DELETE FROM sink_lease WHERE holder = ?1", [&me.id])?;
        Ok(())
    }

    /// Gives up the leases `me` holds on sinks not in `keep`.
    pub fn release_leases_except(&mut self, me: &Holder, keep: &[String]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let held: Vec<String> = tx
            .prepare("SELECT sink FROM sink_lease WHERE holder = ?1")?
            .query_map([&me.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for sink in held.iter().filter(|s| !keep.contains(s)) {
            tx.execute(
                "DELETE FROM sink_lease WHERE holder = ?1 AND sink = ?2",
                params![me.id, sink],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(id: &str, role: &str) -> Holder {
        Holder {
            id: id.into(),
            role: role.into(),
            pid: 1,
            boot_id: "boot".into(),
            pid_ns: "ns".into(),
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(&dir.path().join("db")).unwrap_or_else(|e| panic!("{e}"));
        (dir, store)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_lease_is_held_by_one_process_until_it_lapses_or_its_holder_is_gone() {
        let (_dir, mut store) = store();
        let sinks = vec!["journal".to_string()];
        let (daemon, check) = (holder("d", "daemon"), holder("c", "check"));
        let ttl = Duration::from_secs(30);
        let t0 = at("2026-12-04T10:00:00Z");
        let take = |store: &mut Store, who: &Holder, now, gone: bool| {
            store
                .take_leases(&sinks, who, now, ttl, |_| gone)
                .unwrap_or_else(|e| panic!("{e}"))
                .remove(0)
        };
        assert_eq!(take(&mut store, &daemon, t0, false), Taken::Held);
        match take(&mut store, &check, t0, false) {
            Taken::Elsewhere(lease) => assert_eq!(lease.holder, daemon),
            Taken::Held => panic!("two holders at once"),
        }
        // The holder renews; others still wait.
        assert_eq!(
            take(
                &mut store,
                &daemon,
                t0 + chrono::Duration::seconds(20),
                false
            ),
            Taken::Held
        );
        let t1 = t0 + chrono::Duration::seconds(40);
        assert!(matches!(
            take(&mut store, &check, t1, false),
            Taken::Elsewhere(_)
        ));
        // A holder known to be gone is replaced at once.
        assert_eq!(take(&mut store, &check, t1, true), Taken::Held);
        // A lapsed lease is free.
        let t2 = t1 + chrono::Duration::seconds(31);
        assert_eq!(take(&mut store, &daemon, t2, false), Taken::Held);
        store
            .release_leases(&daemon)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(take(&mut store, &check, t2, false), Taken::Held);
    }
}
