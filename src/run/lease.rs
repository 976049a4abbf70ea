//! One process per run: a lease object in the staging prefix.
//!
//! A scheduler may start a run while the last start is still going, and two processes that
//! both look a job up by its request id, find nothing and create it make two paid jobs for one
//! shard. So before it reads the manifest, a run takes `lease.json` with Cloud Storage's
//! generation preconditions: written only if absent (`ifGenerationMatch=0`), renewed while the
//! run lives by a write conditioned on the generation it holds, released by a delete
//! conditioned the same way. Two writers can never both succeed, whatever their clocks.
//!
//! A lease lapses when its holder stops renewing it: its `expires` time (the holder's clock)
//! has passed, or a waiting process has seen the same generation for longer than the lease's
//! time to live by its own clock (so clock skew cannot keep a dead holder's lease alive), or
//! the holder is a process of this host that no longer exists (a killed run started again takes
//! over at once), or a run of this very process that was dropped. A lapsed lease is taken over
//! by a write conditioned on the generation seen, so of several processes taking over one wins.
//!
//! Cost: one conditional write per renewal, every third of the time to live: 36 writes an hour
//! with the default 5 minutes ([`DEFAULT_LEASE_TTL`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::task::AbortOnDrop;
use crate::error::{Error, Result};
use crate::storage::{ObjectUri, Preconditions, Storage};

/// How long a lease lives without renewal (default): a run killed on another machine is taken
/// over this long after its last renewal; a run on this machine at once.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(300);

/// The largest lease object read: a lease is a few hundred bytes.
const MAX_LEASE_BYTES: u64 = 64 * 1024;

/// Who holds a run's lease, as written in `lease.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LeaseHolder {
    /// The holder's host name.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// A random id of the run in that process.
    pub id: String,
    /// When it took the lease, seconds since the Unix epoch (its clock).
    pub since: u64,
    /// When it last renewed it.
    pub renewed: u64,
    /// When the lease lapses unless renewed again.
    pub expires: u64,
}

impl LeaseHolder {
    /// `host H, process P, since 2025-01-01T00:00:00Z (lapses 2025-01-01T00:05:00Z unless renewed)`.
    pub fn describe(&self) -> String {
        format!(
            "host {}, process {}, since {} (lapses {} unless renewed)",
            self.host,
            self.pid,
            timestamp(self.since),
            timestamp(self.expires)
        )
    }
}

/// Unix seconds as RFC 3339.
pub(crate) fn timestamp(unix: u64) -> String {
    prost_types::Timestamp {
        seconds: i64::try_from(unix).unwrap_or(i64::MAX),
        nanos: 0,
    }
    .to_string()
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The ids of the leases this process holds now: a lease of this process whose id is not here
/// belongs to a run that was dropped, and has lapsed.
static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the renewal task shares with the run.
#[derive(Debug)]
struct Held {
    generation: i64,
    /// Why the lease is no longer this run's, once it is not.
    lost: Option<String>,
}

/// A lease this run holds; renewed in the background until released or dropped (a dropped
/// lease lapses: its renewals stop, and this process no longer counts it as live).
#[derive(Debug)]
pub(crate) struct Lease {
    storage: Storage,
    uri: ObjectUri,
    held: Arc<Mutex<Held>>,
    taken_over: bool,
    renewer: AbortOnDrop,
    /// Counts the lease as live in this process until it is dropped.
    _live: LiveId,
}

/// A lease id counted live in this process ([`LIVE`]) for as long as this is kept: from before
/// the lease is first written until the run that holds it is dropped, or gives up taking it.
#[derive(Debug)]
struct LiveId(String);

impl LiveId {
    fn new(id: &str) -> Self {
        live().insert(id.to_owned());
        LiveId(id.to_owned())
    }
}

impl Drop for LiveId {
    fn drop(&mut self) {
        live().remove(&self.0);
    }
}

/// What a lease is being taken with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeaseOptions {
    pub(crate) ttl: Duration,
    /// Wait for a lease another process holds, rather than fail at once.
    pub(crate) wait: bool,
}

/// How often a waiting process looks at the lease, at most: a third of its time to live.
fn longest_look(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_secs(1))
}

impl Lease {
    /// Takes the lease at `uri`, or fails with [`Error::RunHeld`] naming its holder (when
    /// `options.wait` is false), or waits until it lapses or is released, looking at it on the
    /// schedule of `looks` (at most a third of its time to live apart).
    pub(crate) async fn take(
        storage: &Storage,
        uri: &ObjectUri,
        staging: &ObjectUri,
        options: LeaseOptions,
        looks: &crate::client::WaitOptions,
    ) -> Result<Lease> {
        let mut looks = looks.intervals();
        let ttl = options.ttl.max(Duration::from_secs(3));
        let now = now_unix();
        let mut me = LeaseHolder {
            host: host_name(),
            pid: std::process::id(),
            id: random_id(),
            since: now,
            renewed: now,
            expires: now.saturating_add(ttl.as_secs()),
        };
        // Live before its first write: a run of this process waiting for the lease must never
        // find it written and not yet live, which it would take over as a dropped run's lease
        // (two runs then wrote one manifest: one of three starts failed, 1 time in 12).
        let live_id = LiveId::new(&me.id);
        // The generation last seen of another's lease, and since when (this clock).
        let mut watched: Option<(i64, Instant)> = None;
        let (generation, taken_over) = loop {
            me.renewed = now_unix();
            me.expires = me.renewed.saturating_add(ttl.as_secs());
            match storage
                .upload_bytes_if(uri, encode(&me)?, Preconditions::if_absent())
                .await
            {
                Ok(info) => break (info.generation, false),
                Err(err) if err.is_precondition_failed() => {}
                Err(err) => return Err(err),
            }
            let (holder, generation) = match storage.read_object(uri, MAX_LEASE_BYTES).await {
                Ok((bytes, info)) => (decode(&bytes, uri)?, info.generation),
                // Released meanwhile: take it.
                Err(err) if err.is_not_found() => continue,
                Err(err) => return Err(err),
            };
            if holder.id == me.id {
                // An earlier attempt of this very write landed, its answer was lost.
                break (generation, false);
            }
            let seen_since = match watched {
                Some((seen, since)) if seen == generation => since,
                _ => Instant::now(),
            };
            watched = Some((generation, seen_since));
            if let Some(why) = lapsed(&holder, seen_since.elapsed(), ttl) {
                match storage
                    .upload_bytes_if(uri, encode(&me)?, Preconditions::if_generation(generation))
                    .await
                {
                    Ok(info) => {
                        tracing::warn!(
                            target: "vertex_batch::run::step",
                            lease = %uri, holder = %holder.describe(), why,
                            "lease taken over"
                        );
                        break (info.generation, true);
                    }
                    Err(err) if err.is_precondition_failed() => continue,
                    Err(err) => return Err(err),
                }
            }
            if !options.wait {
                return Err(Error::RunHeld {
                    staging: staging.to_string(),
                    holder: holder.describe(),
                });
            }
            tracing::info!(
                target: "vertex_batch::run::step",
                lease = %uri, holder = %holder.describe(), "waiting for the run's lease"
            );
            let pause = looks.next().unwrap_or(Duration::MAX);
            tokio::time::sleep(pause.min(longest_look(ttl))).await;
        };
        Ok(Lease::held(
            storage, uri, me, live_id, generation, ttl, taken_over,
        ))
    }

    fn held(
        storage: &Storage,
        uri: &ObjectUri,
        me: LeaseHolder,
        live: LiveId,
        generation: i64,
        ttl: Duration,
        taken_over: bool,
    ) -> Lease {
        let held = Arc::new(Mutex::new(Held {
            generation,
            lost: None,
        }));
        let renewer = AbortOnDrop(tokio::spawn(renew(
            storage.clone(),
            uri.clone(),
            me.clone(),
            held.clone(),
            ttl,
        )));
        tracing::info!(target: "vertex_batch::run::step", lease = %uri, generation, "lease taken");
        Lease {
            storage: storage.clone(),
            uri: uri.clone(),
            held,
            taken_over,
            renewer,
            _live: live,
        }
    }

    /// Whether this lease was taken over from a holder whose lease had lapsed.
    pub(crate) fn taken_over(&self) -> bool {
        self.taken_over
    }

    /// Fails with [`Error::RunStopped`] once the lease is no longer this run's (another
    /// process took it over after renewals failed for its whole time to live): a run checks
    /// this before every step that creates something.
    pub(crate) fn check(&self, staging: &ObjectUri) -> Result<()> {
        match &lock(&self.held).lost {
            None => Ok(()),
            Some(why) => Err(Error::RunStopped {
                staging: staging.to_string(),
                reason: format!("its lease was lost ({why})"),
            }),
        }
    }

    /// Lets the lease go: deletes it if it is still the generation this run holds.
    pub(crate) async fn release(self) {
        let generation = lock(&self.held).generation;
        self.renewer.0.abort();
        match self
            .storage
            .delete_if(&self.uri, Preconditions::if_generation(generation))
            .await
        {
            Ok(()) => {
                tracing::info!(target: "vertex_batch::run::step", lease = %self.uri, "lease released")
            }
            Err(err) => {
                tracing::warn!(target: "vertex_batch::run::step", lease = %self.uri, %err, "lease not released; it lapses by itself")
            }
        }
    }
}

/// Who holds the lease at `uri` now, if anyone (a lease this version cannot read counts as
/// none): read without taking it, for a view of the run from elsewhere.
pub(crate) async fn holder(storage: &Storage, uri: &ObjectUri) -> Result<Option<LeaseHolder>> {
    match storage.read_object(uri, MAX_LEASE_BYTES).await {
        Ok((bytes, _)) => Ok(decode(&bytes, uri).ok()),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Renews the lease every third of its time to live, for as long as the run holds it.
async fn renew(
    storage: Storage,
    uri: ObjectUri,
    mut me: LeaseHolder,
    held: Arc<Mutex<Held>>,
    ttl: Duration,
) {
    let mut last_renewal = Instant::now();
    loop {
        tokio::time::sleep(ttl / 3).await;
        me.renewed = now_unix();
        me.expires = me.renewed.saturating_add(ttl.as_secs());
        let generation = lock(&held).generation;
        let Ok(bytes) = encode(&me) else { return };
        match storage
            .upload_bytes_if(&uri, bytes, Preconditions::if_generation(generation))
            .await
        {
            Ok(info) => {
                lock(&held).generation = info.generation;
                last_renewal = Instant::now();
                tracing::debug!(target: "vertex_batch::run::step", lease = %uri, generation = info.generation, "lease renewed");
            }
            Err(err) if err.is_precondition_failed() => {
                // A retried renewal whose first attempt landed also answers 412: look.
                if let Ok((bytes, info)) = storage.read_object(&uri, MAX_LEASE_BYTES).await
                    && decode(&bytes, &uri).is_ok_and(|holder| holder.id == me.id)
                {
                    lock(&held).generation = info.generation;
                    last_renewal = Instant::now();
                    continue;
                }
                lock(&held).lost = Some(format!("{uri} was taken over by another process"));
                tracing::error!(target: "vertex_batch::run::step", lease = %uri, "lease lost");
                return;
            }
            Err(err) => {
                tracing::warn!(target: "vertex_batch::run::step", lease = %uri, %err, "lease renewal failed; trying again");
                if last_renewal.elapsed() >= ttl {
                    lock(&held).lost =
                        Some(format!("{uri} could not be renewed for {ttl:?}: {err}"));
                    return;
                }
            }
        }
    }
}

/// Why `holder`'s lease has lapsed, if it has: seen unchanged for `unchanged` here.
fn lapsed(holder: &LeaseHolder, unchanged: Duration, ttl: Duration) -> Option<&'static str> {
    if holder.expires < now_unix() {
        return Some("its time ran out");
    }
    if unchanged > ttl {
        return Some("it was not renewed for its time to live");
    }
    if holder.host == host_name() {
        if holder.pid == std::process::id() {
            if !live().contains(&holder.id) {
                return Some("its run in this process was dropped");
            }
        } else if !process_exists(holder.pid) {
            return Some("its process on this host has ended");
        }
    }
    None
}

/// Whether a process with this id runs on this host (always true where it cannot be told).
fn process_exists(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|n| !n.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// 16 random hex digits (from the standard library's randomly seeded hasher).
fn random_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one((std::process::id(), SystemTime::now()));
    format!("{bits:016x}")
}

fn encode(holder: &LeaseHolder) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(holder).map_err(|err| Error::internal(format!("a lease: {err}")))
}

fn decode(bytes: &[u8], uri: &ObjectUri) -> Result<LeaseHolder> {
    serde_json::from_slice(bytes).map_err(|err| {
        Error::invalid(
            "staging",
            format!(
                "{uri} is not a run lease this version can read ({err}); if no run uses this \
                 staging prefix, delete it"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_lapses_when_its_time_ran_out_or_it_was_not_renewed() {
        let now = now_unix();
        let fresh = LeaseHolder {
            host: "elsewhere".into(),
            pid: 1,
            id: "x".into(),
            since: now,
            renewed: now,
            expires: now + 300,
        };
        let ttl = Duration::from_secs(300);
        assert_eq!(lapsed(&fresh, Duration::ZERO, ttl), None);
        assert!(lapsed(&fresh, Duration::from_secs(301), ttl).is_some());
        let old = LeaseHolder {
            expires: now - 1,
            ..fresh.clone()
        };
        assert!(lapsed(&old, Duration::ZERO, ttl).is_some());
        let dropped_here = LeaseHolder {
            host: host_name(),
            pid: std::process::id(),
            ..fresh
        };
        assert!(lapsed(&dropped_here, Duration::ZERO, ttl).is_some());
    }

    #[test]
    fn a_lease_of_this_process_is_live_while_its_id_is_kept_and_lapses_once_dropped() {
        let ttl = Duration::from_secs(60);
        let now = now_unix();
        let holder = LeaseHolder {
            host: host_name(),
            pid: std::process::id(),
            id: random_id(),
            since: now,
            renewed: now,
            expires: now + 60,
        };
        // `Lease::take` makes the id live before its first write, so a run of this process
        // that reads the lease always finds it live while the run taking it goes on.
        let live = LiveId::new(&holder.id);
        assert_eq!(lapsed(&holder, Duration::ZERO, ttl), None);
        drop(live);
        assert_eq!(
            lapsed(&holder, Duration::ZERO, ttl),
            Some("its run in this process was dropped")
        );
    }

    #[test]
    fn a_holder_is_described_with_host_process_and_times() {
        let holder = LeaseHolder {
            host: "build-7".into(),
            pid: 4242,
            id: "x".into(),
            since: 1_735_689_600,
            renewed: 1_735_689_600,
            expires: 1_735_689_900,
        };
        assert_eq!(
            holder.describe(),
            "host build-7, process 4242, since 2025-01-01T00:00:00Z (lapses 2025-01-01T00:05:00Z unless renewed)"
        );
    }
}
