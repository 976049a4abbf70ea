//! Fault injection: failures, delays and lost responses on chosen methods.

use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// A fault to inject into the emulator's gRPC methods, with [`Emulator::fault`].
/// `method` is an RPC's name as in [`RecordedCall::method`](super::RecordedCall::method)
/// (e.g. `GetBatchPredictionJob`), or `*` for every method.
///
/// ```
/// use std::time::Duration;
/// use tonic::Code;
/// use vertex_batch::emulator::Fault;
///
/// // The next two Gets fail with UNAVAILABLE, asking the client to wait 2 s.
/// let flaky = Fault::fail_next("GetBatchPredictionJob", 2, Code::Unavailable)
///     .with_retry_delay(Duration::from_secs(2));
/// // The next Create stores the job but answers DEADLINE_EXCEEDED, as if the reply were lost.
/// let lost = Fault::lost_create(Code::DeadlineExceeded);
/// // One List in ten fails, reproducibly.
/// let random = Fault::random("ListBatchPredictionJobs", 0.1, Code::Unavailable, 42);
/// # let _ = (flaky, lost, random);
/// ```
///
/// [`Emulator::fault`]: super::Emulator::fault
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// The next `count` calls of `method` fail with `code`, before doing anything.
    FailNext {
        /// The RPC, or `*`.
        method: String,
        /// How many calls fail.
        count: usize,
        /// The status code they fail with.
        code: Code,
        /// A google.rpc.RetryInfo delay to attach.
        retry_delay: Option<Duration>,
    },
    /// Calls of `method` wait `delay` (real time, whatever the clock) before they are served;
    /// the next `count` calls, or every call when `count` is `None`.
    Delay {
        /// The RPC, or `*`.
        method: String,
        /// How long each call waits.
        delay: Duration,
        /// How many calls wait; `None`: all of them.
        count: Option<usize>,
    },
    /// The next Create stores the job and then answers `code` (UNAVAILABLE or DEADLINE_EXCEEDED
    /// in practice): the response was lost, the job exists.
    LostCreate {
        /// The status code the client gets instead of the job.
        code: Code,
    },
    /// Each call of `method` fails with `code` with probability `rate` (0 to 1), drawn from a
    /// generator seeded with `seed` so a test is reproducible.
    Random {
        /// The RPC, or `*`.
        method: String,
        /// The failure probability; values outside 0..=1 are clamped.
        rate: f64,
        /// The status code of the failures.
        code: Code,
        /// The random generator's seed.
        seed: u64,
        /// A google.rpc.RetryInfo delay to attach.
        retry_delay: Option<Duration>,
    },
    /// A Vertex AI outage on the emulator's clock: every call of every method answers
    /// `UNAVAILABLE` from `starts_in` after the fault is armed, for `length` (Cloud Storage
    /// is not affected). With a manual clock, the outage passes as the test advances it.
    Outage {
        /// How long after arming the outage starts.
        starts_in: Duration,
        /// How long it lasts.
        length: Duration,
    },
}

impl Fault {
    /// Every call answers `UNAVAILABLE` from `starts_in` (on the emulator's clock) for
    /// `length`: an outage of the whole service.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vertex_batch::emulator::Fault;
    ///
    /// // Ten minutes of outage, starting an hour from now.
    /// let outage = Fault::outage(Duration::from_secs(3600), Duration::from_secs(600));
    /// # let _ = outage;
    /// ```
    pub fn outage(starts_in: Duration, length: Duration) -> Self {
        Fault::Outage { starts_in, length }
    }

    /// The next `count` calls of `method` fail with `code`.
    pub fn fail_next(method: impl Into<String>, count: usize, code: Code) -> Self {
        Fault::FailNext {
            method: method.into(),
            count,
            code,
            retry_delay: None,
        }
    }

    /// Every call of `method` waits `delay` before it is served.
    pub fn delay(method: impl Into<String>, delay: Duration) -> Self {
        Fault::Delay {
            method: method.into(),
            delay,
            count: None,
        }
    }

    /// The next `count` calls of `method` wait `delay` before they are served.
    pub fn delay_next(method: impl Into<String>, count: usize, delay: Duration) -> Self {
        Fault::Delay {
            method: method.into(),
            delay,
            count: Some(count),
        }
    }

    /// The next Create stores its job, then answers `code`.
    pub fn lost_create(code: Code) -> Self {
        Fault::LostCreate { code }
    }

    /// Calls of `method` fail with `code` at `rate`, from a generator seeded with `seed`.
    pub fn random(method: impl Into<String>, rate: f64, code: Code, seed: u64) -> Self {
        Fault::Random {
            method: method.into(),
            rate: if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            },
            code,
            seed,
            retry_delay: None,
        }
    }

    /// Attaches a google.rpc.RetryInfo with `delay` to the failures (FailNext and Random).
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        if let Fault::FailNext { retry_delay, .. } | Fault::Random { retry_delay, .. } = &mut self {
            *retry_delay = Some(delay);
        }
        self
    }
}

/// An active fault with its own state (the remaining count, the random generator).
#[derive(Debug)]
struct Armed {
    fault: Fault,
    rng: Option<StdRng>,
    /// When it was armed, on the emulator's clock (an outage counts from it).
    armed_at: SystemTime,
}

/// What a call must suffer before (and after) it is served.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub(crate) delay: Duration,
    pub(crate) fail: Option<tonic::Status>,
}

/// The faults in force.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    armed: Vec<Armed>,
    outage_refusals: u64,
}

fn applies(method: &str, wanted: &str) -> bool {
    wanted == "*" || wanted == method
}

fn failure(code: Code, method: &str, retry_delay: Option<Duration>) -> tonic::Status {
    let message = format!("fault injected by the emulator into {method}");
    match retry_delay {
        Some(delay) => tonic::Status::with_error_details(
            code,
            message,
            ErrorDetails::with_retry_info(Some(delay)),
        ),
        None => tonic::Status::new(code, message),
    }
}

impl FaultSet {
    /// Arms `fault` at `now` (the emulator's clock).
    pub(crate) fn add(&mut self, fault: Fault, now: SystemTime) {
        let rng = match &fault {
            Fault::Random { seed, .. } => Some(StdRng::seed_from_u64(*seed)),
            _ => None,
        };
        self.armed.push(Armed {
            fault,
            rng,
            armed_at: now,
        });
    }

    /// Calls refused by an outage so far.
    pub(crate) fn outage_refusals(&self) -> u64 {
        self.outage_refusals
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    /// Decides what happens to one call of `method` at `now` before it is served, using up
    /// counts.
    pub(crate) fn before(&mut self, method: &str, now: SystemTime) -> Verdict {
        let mut verdict = Verdict::default();
        for armed in &mut self.armed {
            match &mut armed.fault {
                Fault::Outage { starts_in, length } if verdict.fail.is_none() => {
                    let from = armed.armed_at.checked_add(*starts_in);
                    let until = from.and_then(|from| from.checked_add(*length));
                    if from.is_some_and(|from| now >= from) && until.is_none_or(|until| now < until)
                    {
                        self.outage_refusals += 1;
                        verdict.fail = Some(tonic::Status::unavailable(format!(
                            "The service is currently unavailable (an outage injected by the \
                             emulator into {method})"
                        )));
                    }
                }
                Fault::Delay {
                    method: wanted,
                    delay,
                    count,
                } if applies(method, wanted) && count.is_none_or(|n| n > 0) => {
                    verdict.delay += *delay;
                    if let Some(n) = count {
                        *n -= 1;
                    }
                }
                Fault::FailNext {
                    method: wanted,
                    count,
                    code,
                    retry_delay,
                } if verdict.fail.is_none() && applies(method, wanted) && *count > 0 => {
                    *count -= 1;
                    verdict.fail = Some(failure(*code, method, *retry_delay));
                }
                Fault::Random {
                    method: wanted,
                    rate,
                    code,
                    retry_delay,
                    ..
                } if verdict.fail.is_none() && applies(method, wanted) => {
                    let draw: f64 = armed.rng.as_mut().map_or(1.0, |rng| rng.r#gen());
                    if draw < *rate {
                        verdict.fail = Some(failure(*code, method, *retry_delay));
                    }
                }
                _ => {}
            }
        }
        self.armed.retain(|armed| match &armed.fault {
            Fault::FailNext { count, .. } => *count > 0,
            Fault::Delay { count, .. } => count.is_none_or(|n| n > 0),
            _ => true,
        });
        verdict
    }

    /// After a Create stored its job: the status to answer instead, when a lost-response
    /// fault is armed (it is used up).
    pub(crate) fn lost_create(&mut self) -> Option<tonic::Status> {
        let at = self
            .armed
            .iter()
            .position(|armed| matches!(armed.fault, Fault::LostCreate { .. }))?;
        match self.armed.remove(at).fault {
            Fault::LostCreate { code } => Some(tonic::Status::new(
                code,
                "fault injected by the emulator: the job was created but this response was lost",
            )),
            _ => None,
        }
    }
}
