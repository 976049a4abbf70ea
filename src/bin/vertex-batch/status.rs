//! `status`: a run seen from another terminal or machine, without taking its lease.

use std::io::Write;

use vertex_batch::run::RunView;
use vertex_batch::storage::ObjectUri;

use crate::cloud_storage::storage_for;
use crate::connect::Globals;
use crate::exit::Exit;
use crate::out;
use crate::print::age;

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vertex-batch --project my-project status gs://my-bucket/runs/2025-01-01

Shows who runs the run now (host, process, since when), each round's jobs with their state, age
and rows answered and failed so far. Reads only: the run goes on undisturbed.")]
pub struct StatusArgs {
    /// The run's staging prefix, as given to `run --staging`.
    #[arg(value_name = "gs://BUCKET/PREFIX", value_parser = crate::run::parse_staging)]
    staging: ObjectUri,
    #[command(flatten)]
    storage: crate::cloud_storage::StorageArgs,
}

pub async fn run(globals: &Globals, args: StatusArgs) -> anyhow::Result<Exit> {
    let connected = globals.connect().await?;
    let storage = storage_for(globals, &connected, &args.storage)?;
    let view = RunView::read(&connected.client, &storage, &args.staging).await?;
    let mut out = out::stdout();
    writeln!(out, "run {}: {} requests", view.staging, view.rows)?;
    match (&view.lease, &view.ended) {
        (Some(holder), _) => writeln!(out, "running in {}", holder.describe())?,
        (None, Some(ended)) => writeln!(out, "ended for good ({ended})")?,
        (None, None) => writeln!(out, "not running now (run the same command to resume it)")?,
    }
    for round in &view.rounds {
        writeln!(
            out,
            "round {}: {} requests, {} jobs",
            round.round,
            round.rows,
            round.jobs.len()
        )?;
        for job in &round.jobs {
            let state = match (&job.name, job.state) {
                (None, _) => "not created".to_owned(),
                (Some(_), None) => "no longer exists".to_owned(),
                (Some(_), Some(state)) => state.short_name().to_owned(),
            };
            let age = job.age.map(age).unwrap_or_else(|| "-".to_owned());
            writeln!(
                out,
                "  shard {:>4}  {:>7} rows  {:<12} {:>7}  {} answered, {} failed  {}",
                job.shard,
                job.rows,
                state,
                age,
                job.answered,
                job.failed,
                job.name.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(Exit::Success)
}
