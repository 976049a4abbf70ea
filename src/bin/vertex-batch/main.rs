//! `vertex-batch`: Vertex AI batch prediction jobs from the command line, a thin layer over
//! [`vertex_batch::JobClient`].
//!
//! One file per subcommand, named after it; `connect` (the global options and the client they
//! make), `print` (how a job is shown), `out` (standard output, where a closed pipe is a normal
//! end) and `exit` (every exit code) serve them all.

mod cancel;
mod cloud_storage;
mod connect;
mod create;
mod delete;
mod emulator;
mod exit;
mod flags;
mod generation;
mod get;
mod list;
mod out;
mod out_file;
mod print;
mod read;
mod results;
mod run;
mod run_tables;
mod status;
mod submit;
mod wait;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use exit::Exit;

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
    Create(create::CreateArgs),
    /// Show a job.
    Get(get::GetArgs),
    /// List jobs, newest first.
    List(list::ListArgs),
    /// Wait until a job ends, showing its progress; the exit code says how it ended.
    Wait(wait::WaitArgs),
    /// Ask the service to cancel a job.
    Cancel(cancel::CancelArgs),
    /// Delete a job that has ended.
    Delete(delete::DeleteArgs),
    /// A file of prompts through as many jobs as it takes; results joined in input order.
    Run(run::RunArgs),
    /// Show a run from anywhere: who runs it, each round's jobs with state, age and counts.
    Status(status::StatusArgs),
    /// Summarise a job's output (counts, failed rows by status) or print its answers as JSONL
    /// or CSV; from local files, a gs:// directory or the job.
    Results(results::ResultsArgs),
    /// Run the emulator until Ctrl-C, for other vertex-batch commands or any gRPC client (the
    /// vertex-batch-emulator binary, with the same flags).
    Emulator(vertex_batch::emulator::launcher::EmulatorArgs),
}

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let cli = match parsed {
        Ok((cli, matches)) => {
            if let Err(message) = connect::refuse_unused(&matches) {
                return usage(&format!("error: {message}"));
            }
            cli
        }
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return Exit::Success.into();
        }
        Err(e) => {
            // clap's first paragraph is the error; the rest is usage, which `--help` shows.
            let rendered = e.render().to_string();
            let error: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            return usage(&error.join(" "));
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
    let outcome = runtime.block_on(run(cli)).and_then(|exit| {
        out::stdout().flush()?;
        Ok(exit)
    });
    match outcome {
        // A reader that went away (`| head -1`) ends the command as it ends `cat`.
        Err(_) if out::was_closed() => Exit::Success.into(),
        Ok(exit) => exit.into(),
        Err(e) => match e.downcast_ref::<exit::Usage>() {
            Some(exit::Usage(message)) => usage(&format!("error: {message}")),
            None => fail(&e),
        },
    }
}

/// Bad arguments: one line on stderr, pointing to `--help`.
fn usage(error: &str) -> ExitCode {
    eprintln!("{error} (see --help)");
    Exit::Usage.into()
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let context = match cli.command {
        Command::Submit(_) => flags::Context::Submit,
        _ => flags::Context::Command,
    };
    run_command(cli)
        .await
        .map_err(|error| flags::in_words(error, context))
}

async fn run_command(cli: Cli) -> anyhow::Result<Exit> {
    let globals = cli.globals;
    match cli.command {
        Command::Submit(args) => submit::run(&globals, args).await,
        Command::Create(args) => create::run(&globals, args).await,
        Command::Get(args) => get::run(&globals, args).await,
        Command::List(args) => list::run(&globals, args).await,
        Command::Wait(args) => wait::run(&globals, args).await,
        Command::Cancel(args) => cancel::run(&globals, args).await,
        Command::Delete(args) => delete::run(&globals, args).await,
        Command::Run(args) => run::run(&globals, args).await,
        Command::Results(args) => results::run(&globals, args).await,
        Command::Status(args) => status::run(&globals, args).await,
        Command::Emulator(args) => emulator::run(&globals, args).await,
    }
}

/// One line on stderr: the error and its causes, each said once. A cause whose text the
/// message before it holds already (a context repeating the error it wraps) is left out.
fn fail(error: &anyhow::Error) -> ExitCode {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    eprintln!("error: {}", message.replace('\n', " "));
    Exit::Error.into()
}

/// `-v`: this crate's debug logs (each call with its outcome and duration, each poll of a
/// wait with what it found); `-vv`: everything's. `RUST_LOG` overrides both. Colours only on a
/// terminal.
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
