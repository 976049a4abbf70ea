//! An emulator launched as a process (`vertex-batch-emulator`, or `vertex-batch emulator`), as a
//! user runs it: killed when the test ends, however it ends, with the banner it printed.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The banner's first line starts with this, then the gRPC (and REST) URI.
pub const LISTENING: &str = "vertex-batch emulator listening on ";

/// A launched emulator and its banner.
pub struct Launched {
    child: Child,
    banner: Vec<String>,
}

impl Launched {
    /// Runs `command` with its stdout piped and reads the banner, up to its last line (`press
    /// Ctrl-C to stop`). A thread keeps reading what follows, so the process never finds its
    /// stdout closed.
    pub fn start(mut command: Command) -> Launched {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("the banner is text");
            let last = line.starts_with("press Ctrl-C");
            banner.push(line);
            if last {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Launched { child, banner }
    }

    /// `vertex-batch-emulator` with `args`.
    pub fn binary(args: &[&str]) -> Launched {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"));
        command.args(args);
        Launched::start(command)
    }

    /// What follows `prefix` on the banner line that starts with it (`rest: `,
    /// `STORAGE_EMULATOR_HOST=`, `token: `).
    pub fn line(&self, prefix: &str) -> String {
        self.banner
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in the banner: {:#?}", self.banner))
            .trim()
            .to_owned()
    }

    /// Where it listens, as the banner's first line says.
    pub fn uri(&self) -> String {
        self.banner
            .first()
            .and_then(|line| line.strip_prefix(LISTENING))
            .expect("the first line says where it listens")
            .trim()
            .to_owned()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
