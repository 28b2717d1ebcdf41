//! placeholder replaced by the real module
use std::time::Duration;
use chrono::{DateTime, Utc};
#[derive(Debug, Clone)]
pub enum Schedule { Every(Duration), Cron(CronSchedule) }
#[derive(Debug, Clone)]
pub struct CronSchedule;
impl CronSchedule { pub fn parse(_e: &str, _tz: Option<&str>) -> Result<CronSchedule, String> { Ok(CronSchedule) } }
impl Schedule {
    pub fn next_after(&self, t: DateTime<Utc>) -> DateTime<Utc> { t }
    pub fn nominal_interval(&self) -> Duration { Duration::from_secs(1) }
}
impl std::fmt::Display for Schedule { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "x") } }
pub trait Clock: Send + Sync + 'static { fn now(&self) -> DateTime<Utc>; }
pub struct SystemClock;
impl Clock for SystemClock { fn now(&self) -> DateTime<Utc> { Utc::now() } }
pub fn startup_jitter(_s: &Schedule) -> Duration { Duration::ZERO }
#[derive(Default)]
pub struct Scheduler;
impl Scheduler {
    pub fn new() -> Self { Scheduler }
    pub fn upsert(&mut self, _n: &str, _s: Schedule, _d: DateTime<Utc>) {}
    pub fn remove(&mut self, _n: &str) {}
    pub fn finish(&mut self, _n: &str, _now: DateTime<Utc>, _e: Option<DateTime<Utc>>) {}
}
pub async fn drive(_s: std::sync::Arc<std::sync::Mutex<Scheduler>>, _c: std::sync::Arc<dyn Clock>, _w: std::sync::Arc<tokio::sync::Notify>, _t: tokio_util::sync::CancellationToken, _d: tokio::sync::mpsc::UnboundedSender<String>) {}
