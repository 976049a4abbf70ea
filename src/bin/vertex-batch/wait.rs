//! `wait`: follow a job until it ends, with a progress bar; the exit code says how it ended.
//! `submit`, `create` and `cancel` go on to wait with `--wait`, through [`follow`].

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{JobClient, WaitOptions};

use crate::connect::Globals;
use crate::exit::Exit;
use crate::print::Format;

#[derive(clap::Args)]
#[command(after_help = help())]
pub struct WaitArgs {
    /// The job: its id or full resource name.
    job: String,
    #[command(flatten)]
    poll: Poll,
    #[command(flatten)]
    format: Format,
}

/// Examples, then the exit codes as [`Exit`] defines them.
fn help() -> String {
    format!(
        "\
Examples:
  vertex-batch --project my-project wait 1234567890 && echo done
  vertex-batch wait projects/my-project/locations/us-central1/batchPredictionJobs/1234567890 --timeout 3600

{}",
        Exit::help()
    )
}

/// `--wait` and how to poll, for the commands that can go on to wait for the job. How to poll
/// means nothing without `--wait`: given alone, it is refused.
#[derive(clap::Args)]
#[command(
    mut_arg("interval", |arg| arg.requires("wait")),
    mut_arg("timeout", |arg| arg.requires("wait"))
)]
pub struct WaitAfter {
    /// Wait until the job ends, as `wait` does (and exit as it does: see `wait --help`).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub poll: Poll,
}

/// How often to poll, and for how long.
#[derive(clap::Args)]
pub struct Poll {
    /// Seconds to the first poll; the interval then grows by half each time, up to 30 s (or
    /// up to this interval, when it is longer).
    #[arg(long, value_name = "SECONDS", value_parser = parse_interval, allow_negative_numbers = true)]
    interval: Option<Duration>,
    /// Give up waiting after this many seconds (exit code 7); the job goes on.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, allow_negative_numbers = true)]
    timeout: Option<Duration>,
}

impl Poll {
    fn options(&self, defaults: &WaitOptions) -> WaitOptions {
        let mut options = defaults.clone();
        if let Some(interval) = self.interval {
            // Asked for, so not capped below itself.
            let max = interval.max(options.max_interval());
            options = options
                .with_max_interval(max)
                .with_initial_interval(interval);
        }
        if let Some(timeout) = self.timeout {
            options = options.with_timeout(timeout);
        }
        options
    }
}

pub async fn run(globals: &Globals, args: WaitArgs) -> anyhow::Result<Exit> {
    let connected = globals.connect().await?;
    follow(&connected.client, &args.job, &args.poll, &args.format).await
}

/// For `submit` and `create`: prints the created job, or with `--wait` waits for it to end.
pub async fn print_or_follow(
    client: &JobClient,
    job: BatchPredictionJob,
    then: &WaitAfter,
    format: &Format,
) -> anyhow::Result<Exit> {
    if !then.wait {
        format.job(&job)?;
        return Ok(Exit::Success);
    }
    if !format.json {
        eprintln!("submitted {}", job.name);
    }
    follow(client, &job.name, &then.poll, format).await
}

/// Waits for `job`, showing its state and counts, then prints it.
pub async fn follow(
    client: &JobClient,
    job: &str,
    poll: &Poll,
    format: &Format,
) -> anyhow::Result<Exit> {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} {msg:<20} [{bar:30}] {pos}/{len} rows, {elapsed}")
            .map_err(|e| anyhow::anyhow!("progress bar template: {e}"))?,
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut last_state = None;
    let waited = client
        .wait_with(job, &poll.options(client.wait_options()), |job| {
            let state = job.state();
            let progress = job.progress();
            if let Some(total) = progress.total() {
                bar.set_length(total);
            }
            bar.set_position(progress.processed());
            bar.set_message(state.short_name());
            // Without a terminal the bar is hidden: say each change of state on a line.
            if bar.is_hidden() && last_state != Some(state) {
                eprintln!("{} {} ({progress})", job.name, state.short_name());
            }
            last_state = Some(state);
        })
        .await;
    bar.finish_and_clear();
    let job = match waited {
        Ok(job) => job,
        Err(e) if e.is_wait_timeout() => {
            eprintln!("error: {e}");
            return Ok(Exit::Timeout);
        }
        Err(e) => return Err(e.into()),
    };
    format.job(&job)?;
    Ok(Exit::for_ended(job.state()))
}

/// A number of seconds, from 0 up to what a `Duration` holds.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let seconds: f64 = s
        .parse()
        .ok()
        .filter(|seconds: &f64| !seconds.is_nan())
        .ok_or_else(|| format!("`{s}` is not a number of seconds, e.g. 2 or 0.5"))?;
    if seconds < 0.0 {
        return Err(format!("`{s}`: a number of seconds cannot be negative"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        format!(
            "`{s}` seconds is more than a duration holds: at most {} seconds (about 585 \
             billion years)",
            u64::MAX
        )
    })
}

/// A number of seconds more than 0: polls at no interval would be back to back.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let interval = parse_seconds(s)?;
    if interval.is_zero() {
        return Err(format!(
            "`{s}`: the interval must be more than 0 seconds, or polls would come back to back"
        ));
    }
    Ok(interval)
}
