use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::Schedule;

#[derive(Debug)]
struct Entry {
    schedule: Schedule,
    /// When idle, the next due time; while a poll runs, the due time it was started for.
    due: DateTime<Utc>,
    running: bool,
    /// Set when `upsert` gave a running entry a new first due time, which `finish` keeps.
    due_replaced: bool,
}

/// The due time of every source. A source whose poll is running is never due again until
/// [`Scheduler::finish`], so a poll cannot overlap itself.
#[derive(Debug, Default)]
pub struct Scheduler {
    entries: BTreeMap<String, Entry>,
    /// `(due, name)` of every entry that is not running, earliest first.
    idle: BTreeSet<(DateTime<Utc>, String)>,
}

impl Scheduler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a source, or replaces its schedule and due time. A poll in flight stays
    /// running; when it finishes the source is next due at `first_due` (or the first
    /// occurrence after that, if `first_due` has passed by then).
    pub fn upsert(&mut self, name: &str, schedule: Schedule, first_due: DateTime<Utc>) {
        if let Some(entry) = self.entries.get_mut(name) {
            entry.schedule = schedule;
            if entry.running {
                entry.due = first_due;
                entry.due_replaced = true;
            } else {
                self.idle.remove(&(entry.due, name.to_owned()));
                entry.due = first_due;
                self.idle.insert((first_due, name.to_owned()));
            }
            return;
        }
        let entry = Entry {
            schedule,
            due: first_due,
            running: false,
            due_replaced: false,
        };
        self.entries.insert(name.to_owned(), entry);
        self.idle.insert((first_due, name.to_owned()));
    }

    /// Forgets a source. A poll in flight may finish; it is then not scheduled again.
    pub fn remove(&mut self, name: &str) {
        if let Some(entry) = self.entries.remove(name)
            && !entry.running
        {
            self.idle.remove(&(entry.due, name.to_owned()));
        }
    }

    /// When the source is next due; while its poll runs, when that poll was due.
    pub fn due_at(&self, name: &str) -> Option<DateTime<Utc>> {
        self.entries.get(name).map(|entry| entry.due)
    }

    /// The earliest due time among sources whose poll is not running.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.idle.first().map(|(due, _)| *due)
    }

    /// Marks every source due at or before `now` as running and returns their names,
    /// by due time, then name.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let mut due = Vec::new();
        while self.idle.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, name)) = self.idle.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.get_mut(&name) {
                entry.running = true;
                entry.due_replaced = false;
            }
            due.push(name);
        }
        due
    }

    /// Marks a source's poll as finished at `now` and schedules the next one: the next
    /// occurrence after the due time just served, or, if the poll overran it, the first
    /// occurrence after `now` (missed firings are skipped, never bunched). `earliest_next`
    /// postpones it further, for Retry-After or backoff. Does nothing if the source is
    /// unknown or not running.
    pub fn finish(&mut self, name: &str, now: DateTime<Utc>, earliest_next: Option<DateTime<Utc>>) {
        let Some(entry) = self.entries.get_mut(name) else {
            return;
        };
        if !entry.running {
            return;
        }
        let candidate = if entry.due_replaced {
            entry.due
        } else {
            entry.schedule.next_after(entry.due)
        };
        let mut next = if candidate < now {
            entry.schedule.first_after(candidate, now)
        } else {
            candidate
        };
        if let Some(later) = earliest_next {
            next = next.max(later);
        }
        entry.running = false;
        entry.due_replaced = false;
        entry.due = next;
        self.idle.insert((next, name.to_owned()));
    }
}

/// What tests look at.
#[cfg(test)]
impl Scheduler {
    /// The names of all sources, in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn is_running(&self, name: &str) -> bool {
        self.entries.get(name).is_some_and(|entry| entry.running)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::super::test_util::{at, mins};
    use super::*;

    #[test]
    fn take_due_orders_by_due_time_then_name_and_skips_running() {
        let t = at("2026-01-05T00:00:00Z");
        let mut scheduler = Scheduler::new();
        scheduler.upsert("b", Schedule::Every(mins(5)), t);
        scheduler.upsert("a", Schedule::Every(mins(5)), t);
        scheduler.upsert("c", Schedule::Every(mins(5)), t - TimeDelta::minutes(1));
        scheduler.upsert("later", Schedule::Every(mins(5)), t + TimeDelta::minutes(1));
        assert_eq!(
            scheduler.names().collect::<Vec<_>>(),
            ["a", "b", "c", "later"]
        );
        assert_eq!(scheduler.take_due(t), ["c", "a", "b"]);
        assert!(scheduler.is_running("a"));
        assert_eq!(scheduler.take_due(t + TimeDelta::hours(1)), ["later"]);
        assert_eq!(scheduler.next_wakeup(), None);
        scheduler.finish("a", t + TimeDelta::minutes(1), None);
        assert_eq!(scheduler.due_at("a"), Some(t + TimeDelta::minutes(5)));
        assert_eq!(scheduler.next_wakeup(), Some(t + TimeDelta::minutes(5)));
    }

    #[test]
    fn finish_skips_missed_firings_and_honours_earliest_next() {
        let t = at("2026-01-05T00:00:00Z");
        let mut scheduler = Scheduler::new();
        scheduler.upsert("s", Schedule::Every(mins(10)), t);
        scheduler.take_due(t);
        scheduler.finish("s", t + TimeDelta::minutes(25), None);
        assert_eq!(scheduler.due_at("s"), Some(t + TimeDelta::minutes(30)));
        scheduler.take_due(t + TimeDelta::minutes(30));
        let retry_after = t + TimeDelta::minutes(47);
        scheduler.finish("s", t + TimeDelta::minutes(31), Some(retry_after));
        assert_eq!(scheduler.due_at("s"), Some(retry_after));
        scheduler.finish("s", t + TimeDelta::minutes(32), None);
        assert_eq!(
            scheduler.due_at("s"),
            Some(retry_after),
            "finish without a poll is ignored"
        );
    }

    #[test]
    fn upsert_keeps_a_running_poll_and_remove_forgets_it() {
        let t = at("2026-01-05T00:00:00Z");
        let mut scheduler = Scheduler::new();
        scheduler.upsert("s", Schedule::Every(mins(10)), t);
        scheduler.take_due(t);
        scheduler.upsert("s", Schedule::Every(mins(60)), t + TimeDelta::minutes(3));
        assert!(scheduler.is_running("s"));
        assert_eq!(
            scheduler.take_due(t + TimeDelta::minutes(5)),
            Vec::<String>::new()
        );
        scheduler.finish("s", t + TimeDelta::minutes(1), None);
        assert_eq!(scheduler.due_at("s"), Some(t + TimeDelta::minutes(3)));
        scheduler.take_due(t + TimeDelta::minutes(3));
        scheduler.remove("s");
        scheduler.finish("s", t + TimeDelta::minutes(4), None);
        assert!(scheduler.is_empty());
        assert_eq!(scheduler.next_wakeup(), None);
    }
}
