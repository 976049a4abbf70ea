//! Every exit code of the tool, in one place: 0, 1 and 2 for any command, how a job that was
//! waited for ended, and 8 when `run` leaves prompts without an answer. `wait --help` lists them from here.

use std::process::ExitCode;

use vertex_batch::v1::JobState;

/// How the process ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The command did what it was asked; a waited-for job SUCCEEDED.
    Success = 0,
    /// An error, on stderr in one line.
    Error = 1,
    /// Bad arguments (clap's own errors).
    Usage = 2,
    /// A waited-for job FAILED.
    Failed = 3,
    /// A waited-for job was CANCELLED.
    Cancelled = 4,
    /// A waited-for job EXPIRED.
    Expired = 5,
    /// A waited-for job PARTIALLY_SUCCEEDED.
    PartiallySucceeded = 6,
    /// `--timeout` ran out before the job ended.
    Timeout = 7,
    /// `run`: some prompts have no answer (their lines in the results say why).
    RowsFailed = 8,
    /// `run`: another process runs this run now (it holds the run's lease).
    RunHeld = 9,
    /// `run`: stopped by Ctrl-C or SIGTERM; the same command resumes it.
    Interrupted = 130,
}

impl Exit {
    /// The codes a wait can end with (`RowsFailed` is `run`'s alone).
    const WAIT: [Exit; 8] = [
        Exit::Success,
        Exit::Error,
        Exit::Usage,
        Exit::Failed,
        Exit::Cancelled,
        Exit::Expired,
        Exit::PartiallySucceeded,
        Exit::Timeout,
    ];

    /// How a job that ended in `state` exits. Only ended jobs come back from a wait; any
    /// other state would be a bug, reported as an error.
    pub fn for_ended(state: JobState) -> Exit {
        match state {
            JobState::Succeeded => Exit::Success,
            JobState::Failed => Exit::Failed,
            JobState::Cancelled => Exit::Cancelled,
            JobState::Expired => Exit::Expired,
            JobState::PartiallySucceeded => Exit::PartiallySucceeded,
            _ => Exit::Error,
        }
    }

    /// What the code means, as `wait --help` says it.
    fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "the job SUCCEEDED",
            Exit::Error => "an error (the job could not be read)",
            Exit::Usage => "bad arguments",
            Exit::Failed => "the job FAILED",
            Exit::Cancelled => "the job was CANCELLED",
            Exit::Expired => "the job EXPIRED",
            Exit::PartiallySucceeded => {
                "the job PARTIALLY_SUCCEEDED (some rows failed: see the status column of the output)"
            }
            Exit::Timeout => "--timeout ran out; the job goes on",
            Exit::RowsFailed => "some prompts have no answer (their lines in the results say why)",
            Exit::RunHeld => "another process runs this run now",
            Exit::Interrupted => "stopped by Ctrl-C or SIGTERM (the same command resumes)",
        }
    }

    /// The `Exit codes:` section of `wait --help`.
    pub fn help() -> String {
        let mut help = String::from("Exit codes:");
        for exit in Exit::WAIT {
            help.push_str(&format!("\n  {}  {}", exit as u8, exit.meaning()));
        }
        help
    }
}

/// Bad arguments that clap cannot see (two that clash, one a command ignores): reported as
/// clap's own errors are, with [`Exit::Usage`].
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_code_once_in_order() {
        let help = Exit::help();
        let codes: Vec<&str> = help
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert_eq!(codes, ["0", "1", "2", "3", "4", "5", "6", "7"]);
    }

    #[test]
    fn each_end_state_has_its_own_code() {
        let ends = [
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
            JobState::Expired,
            JobState::PartiallySucceeded,
        ];
        let codes: Vec<u8> = ends.iter().map(|s| Exit::for_ended(*s) as u8).collect();
        assert_eq!(codes, [0, 3, 4, 5, 6]);
        assert_eq!(Exit::for_ended(JobState::Running), Exit::Error);
    }
}
