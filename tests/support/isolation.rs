//! One test run alone in a process of its own, for the few tests that depend on process-wide
//! state: a counting global allocator, whose figures anything else allocating meanwhile would
//! spoil; the environment, which other threads may read while it changes; tracing's per-process
//! cache of which spans any subscriber wants, which other threads can fill in while a test's own
//! subscriber is being set. Each of these tests used to be the only test of its binary; now that
//! tests share binaries, the test binary runs itself again with only that test selected, which
//! gives the test the same process to itself.
#![allow(dead_code)] // each test binary uses its own part

use std::process::Command;

/// Set in the child process to the name of the test it runs alone.
const ALONE: &str = "VERTEX_BATCH_TEST_ALONE";

/// Runs the test `function` of `module` (pass `module_path!()`) alone in a new process of this
/// test binary, unless this process is that one.
///
/// Returns `true` in the test binary's own run, once the child ran the test and it passed: the
/// caller returns at once. Returns `false` in the child: the caller goes on with the test's body.
/// What the child printed is printed again here, so `--nocapture` shows it.
///
/// ```text
/// #[test]
/// fn counts_every_allocation() {
///     if crate::support::isolation::rerun_alone(module_path!(), "counts_every_allocation") {
///         return;
///     }
///     // ... the test's body, alone in its process
/// }
/// ```
pub fn rerun_alone(module: &str, function: &str) -> bool {
    // The harness names a test by its path without the crate's name: `memory::some_test`.
    let test = match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{function}"),
        None => function.to_owned(),
    };
    if std::env::var_os(ALONE).is_some_and(|alone| alone == test.as_str()) {
        return false;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([&test, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, &test)
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "{test}, run alone, failed: {}",
        output.status
    );
    // A name that matches no test runs nothing and still succeeds: make sure it ran.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test} did not run alone: no test has that name"
    );
    true
}
