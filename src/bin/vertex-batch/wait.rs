//! `wait`: follow a job until it ends, with a progress bar; the exit code says how it ended.

use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use vertex_batch::v1::JobState;
use vertex_batch::{JobClient, WaitOptions};

use crate::connect::Globals;
use crate::print::Format;

/// How a waited-for job ended, as the process's exit code. 1 is any error, 2 bad arguments.
const EXIT_FAILED: u8 = 3;
const EXIT_CANCELLED: u8 = 4;
const EXIT_EXPIRED: u8 = 5;
const EXIT_PARTIALLY_SUCCEEDED: u8 = 6;
const EXIT_TIMEOUT: u8 = 7;

#[derive(clap::Args)]
#[command(after_help = WAIT_HELP)]
pub struct WaitArgs {
    /// The job: its id or full resource name.
    job: String,
    #[command(flatten)]
    poll: Poll,
    #[command(flatten)]
    format: Format,
}

const WAIT_HELP: &str = "\
Examples:
  vertex-batch --project my-project wait 1234567890 && echo done
  vertex-batch wait projects/my-project/locations/us-central1/batchPredictionJobs/1234567890 --timeout 3600

Exit codes:
  0  the job SUCCEEDED
  1  an error (the job could not be read)
  2  bad arguments
  3  the job FAILED
  4  the job was CANCELLED
  5  the job EXPIRED
  6  the job PARTIALLY_SUCCEEDED (some rows failed: see the status column of the output)
  7  --timeout ran out; the job goes on";

/// `--wait` and how to poll, for the commands that can go on to wait for the job.
#[derive(clap::Args)]
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
    /// Seconds to the first poll; the interval then grows by half each time, up to 30 s.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    interval: Option<Duration>,
    /// Give up waiting after this many seconds (exit code 7); the job goes on.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Option<Duration>,
}

impl Poll {
    fn options(&self, defaults: &WaitOptions) -> WaitOptions {
        let mut options = defaults.clone();
        if let Some(interval) = self.interval {
            options = options.with_initial_interval(interval);
        }
        if let Some(timeout) = self.timeout {
            options = options.with_timeout(timeout);
        }
        options
    }
}

pub async fn run(globals: &Globals, args: WaitArgs) -> anyhow::Result<ExitCode> {
    let connected = globals.connect().await?;
    follow(&connected.client, &args.job, &args.poll, &args.format).await
}

/// Waits for `job`, showing its state and counts, then prints it.
pub async fn follow(
    client: &JobClient,
    job: &str,
    poll: &Poll,
    format: &Format,
) -> anyhow::Result<ExitCode> {
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
            return Ok(ExitCode::from(EXIT_TIMEOUT));
        }
        Err(e) => return Err(e.into()),
    };
    format.job(&job)?;
    Ok(exit_code(job.state()))
}

fn exit_code(state: JobState) -> ExitCode {
    match state {
        JobState::Succeeded => ExitCode::SUCCESS,
        JobState::Failed => ExitCode::from(EXIT_FAILED),
        JobState::Cancelled => ExitCode::from(EXIT_CANCELLED),
        JobState::Expired => ExitCode::from(EXIT_EXPIRED),
        JobState::PartiallySucceeded => ExitCode::from(EXIT_PARTIALLY_SUCCEEDED),
        // wait returns only ended jobs
        _ => ExitCode::FAILURE,
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let seconds: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds, e.g. 2 or 0.5"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("`{s}`: seconds must be positive and finite"))
}
