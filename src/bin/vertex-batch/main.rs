//! `vertex-batch`: Vertex AI batch prediction jobs from the command line, a thin layer over
//! [`vertex_batch::JobClient`].

mod cloud_storage;
mod connect;
mod emulator;
mod generation;
mod manage;
mod print;
mod results;
mod run;
mod show;
mod submit;
mod wait;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Submit, watch, list, cancel and delete Vertex AI batch prediction jobs (Gemini).
#[derive(Parser)]
#[command(name = "vertex-batch", version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    globals: connect::Globals,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  # a job from start to end, offline, against an embedded emulator:
  vertex-batch --emulator submit gemini-2.0-flash-001 \\
      --input gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl \\
      --output gs://my-bucket/out --temperature 0.2 --max-output-tokens 200 --wait
  # the same against Vertex AI, with Application Default Credentials:
  vertex-batch --project my-project --location us-central1 submit gemini-2.0-flash-001 ...
  vertex-batch --project my-project list --state running";

#[derive(Subcommand)]
enum Command {
    /// Submit a batch prediction job from a model, inputs and an output.
    Submit(submit::SubmitArgs),
    /// Submit a job from a REST request body (proto3 JSON), as in the Vertex AI docs.
    Create(submit::CreateArgs),
    /// Show a job.
    Get(show::GetArgs),
    /// List jobs, newest first.
    List(show::ListArgs),
    /// Wait until a job ends, showing its progress; the exit code says how it ended.
    Wait(wait::WaitArgs),
    /// Ask the service to cancel a job.
    Cancel(manage::CancelArgs),
    /// Delete a job that has ended.
    Delete(manage::DeleteArgs),
    /// A file of prompts through as many jobs as it takes; results joined in input order.
    Run(run::RunArgs),
    /// Summarise a job's output (counts, failed rows by status) or print its answers as JSONL
    /// or CSV; from local files, a gs:// directory or the job.
    Results(results::ResultsArgs),
    /// Run the emulator until Ctrl-C, for other vertex-batch commands or any gRPC client.
    Emulator(emulator::EmulatorArgs),
}

/// Exit codes. How a waited-for job ended has its own codes (see `wait --help`).
const EXIT_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's first paragraph is the error; the rest is usage, which `--help` shows.
            let rendered = e.render().to_string();
            let error: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see --help)", error.join(" "));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing(cli.globals.verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::anyhow!("could not start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let globals = cli.globals;
    match cli.command {
        Command::Submit(args) => submit::submit(&globals, args).await,
        Command::Create(args) => submit::create(&globals, args).await,
        Command::Get(args) => show::get(&globals, args).await,
        Command::List(args) => show::list(&globals, args).await,
        Command::Wait(args) => wait::run(&globals, args).await,
        Command::Cancel(args) => manage::cancel(&globals, args).await,
        Command::Delete(args) => manage::delete(&globals, args).await,
        Command::Run(args) => run::run(&globals, args).await,
        Command::Results(args) => results::run(&globals, args).await,
        Command::Emulator(args) => emulator::run(&globals, args).await,
    }
}

/// One line on stderr, whatever the error's chain.
fn fail(error: &anyhow::Error) -> ExitCode {
    let message = format!("{error:#}").replace('\n', " ");
    eprintln!("error: {message}");
    ExitCode::from(EXIT_ERROR)
}

/// `-v`: this crate's debug logs; `-vv`: everything's. `RUST_LOG` overrides both.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match (EnvFilter::try_from_default_env(), verbose) {
        (Ok(filter), _) => filter,
        (Err(_), 0) => return,
        // The library and this binary are both the crate `vertex_batch`.
        (Err(_), 1) => EnvFilter::new("vertex_batch=debug"),
        (Err(_), _) => EnvFilter::new("debug"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
