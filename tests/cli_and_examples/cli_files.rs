//! The files a user trusts the tool with: `run` never writes over its input under any spelling
//! of its path, writes `--out` as what the user named (a link's target, a FIFO), through a
//! temporary of its own that no other run or file shares; `results` and the emulator use
//! private temporary folders of their own and never write through a planted link.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli_run::{
    EmulatorProcess, jobs_of, output, results_of, run_args, scratch, start_emulator, text, vb,
    write_input,
};

/// `run INPUT --out OUT` against `emu`, staging under `gs://runs/NAME`.
fn run(emu: &EmulatorProcess, input: &Path, name: &str, out: &Path) -> std::process::Output {
    let mut command = vb(emu);
    command.args(run_args(input, &format!("gs://runs/{name}"), out));
    output(command)
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_out_that_is_the_input_is_refused_under_every_spelling() {
    let dir = scratch("out-is-input");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 3);
    let prompts = std::fs::read(&input).unwrap();
    let link = dir.join("link.jsonl");
    let hard = dir.join("hard.jsonl");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&input, &link).unwrap();
    std::fs::hard_link(&input, &hard).unwrap();
    let spellings: Vec<PathBuf> = vec![
        input.clone(),
        PathBuf::from("prompts.jsonl"),
        PathBuf::from("./prompts.jsonl"),
        dir.join("..")
            .join(dir.file_name().unwrap())
            .join("prompts.jsonl"),
        link.clone(),
        hard.clone(),
    ];
    for out in spellings {
        let mut command = vb(&emu);
        command
            .current_dir(&dir)
            .args(run_args(&input, "gs://runs/same", &out));
        let done = output(command);
        let stderr = text(&done.stderr);
        assert_eq!(
            done.status.code(),
            Some(2),
            "--out {}: {stderr}",
            out.display()
        );
        assert!(
            stderr.contains("is INPUT") && stderr.contains("--out"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&input).unwrap(), prompts, "{}", out.display());
    }
    // The input as --out under a relative INPUT too.
    let mut command = vb(&emu);
    command.current_dir(&dir).args(run_args(
        Path::new("./prompts.jsonl"),
        "gs://runs/same",
        &hard,
    ));
    assert_eq!(output(command).status.code(), Some(2));
    assert_eq!(std::fs::read(&input).unwrap(), prompts);
    assert_eq!(
        names_in(&dir)
            .into_iter()
            .filter(|name| name.contains("partial"))
            .count(),
        0,
        "no temporary left"
    );
}

#[test]
fn files_named_like_a_temporary_are_never_emptied_or_deleted() {
    let dir = scratch("partial-names");
    let emu = start_emulator(&dir, &[]);
    let out = dir.join("results.jsonl");
    // An INPUT named as the temporary of OUT used to be.
    let input = dir.join("results.jsonl.partial");
    write_input(&input, 4);
    let prompts = std::fs::read(&input).unwrap();
    let done = run(&emu, &input, "partial-input", &out);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert_eq!(std::fs::read(&input).unwrap(), prompts, "INPUT intact");
    assert_eq!(results_of(&out).len(), 4);

    // A bystander with that name survives a run that fails on its input, and one that ends.
    let other_out = dir.join("other.jsonl");
    let bystander = dir.join("other.jsonl.partial");
    std::fs::write(&bystander, "keep me\n").unwrap();
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"request\": {\"contents\": []}}\nnot json\n").unwrap();
    let failed = run(&emu, &bad, "partial-bad", &other_out);
    assert_ne!(failed.status.code(), Some(0), "{}", text(&failed.stderr));
    assert!(
        text(&failed.stderr).contains("INPUT line 2"),
        "{}",
        text(&failed.stderr)
    );
    assert_eq!(std::fs::read_to_string(&bystander).unwrap(), "keep me\n");
    assert!(!other_out.exists(), "no results file from a failed run");
    let done = run(&emu, &input, "partial-input", &other_out);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert_eq!(std::fs::read_to_string(&bystander).unwrap(), "keep me\n");
    let left: Vec<String> = names_in(&dir)
        .into_iter()
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert_eq!(left, ["other.jsonl.partial", "results.jsonl.partial"]);
}

#[cfg(unix)]
#[test]
fn a_linked_out_updates_its_target_and_keeps_the_link() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("out-link");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 5);
    let target_dir = dir.join("elsewhere");
    std::fs::create_dir_all(&target_dir).unwrap();
    let target = target_dir.join("results.jsonl");
    std::fs::write(&target, "old results\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("results.jsonl");
    std::os::unix::fs::symlink("elsewhere/results.jsonl", &link).unwrap();

    let done = run(&emu, &input, "link", &link);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link is kept");
    assert_eq!(results_of(&target).len(), 5, "its target holds the results");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the target keeps its mode");
    assert_eq!(names_in(&target_dir), ["results.jsonl"]);

    // A link to nothing yet: the file is made where it points.
    let dangling = dir.join("new.jsonl");
    std::os::unix::fs::symlink("elsewhere/new.jsonl", &dangling).unwrap();
    let done = run(&emu, &input, "link", &dangling);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(results_of(&target_dir.join("new.jsonl")).len(), 5);
}

#[cfg(unix)]
#[test]
fn a_fifo_or_device_out_is_written_to_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch("out-fifo");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 6);
    let fifo = dir.join("results.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let done = run(&emu, &input, "fifo", &fifo);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "still a FIFO"
    );
    // Only once the FIFO is known to be there still: a replaced one would leave the reader
    // waiting for ever.
    let streamed = reader.join().unwrap();
    assert_eq!(streamed.lines().count(), 6, "{streamed}");
    assert!(streamed.lines().all(|line| line.contains("\"key\"")));

    // /dev/stdout, to a pipe and to a file the shell opened: written through, never renamed
    // over (its link names a descriptor, not a path).
    let done = run(&emu, &input, "fifo", Path::new("/dev/stdout"));
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let rows = text(&done.stdout)
        .lines()
        .filter(|line| line.starts_with("{\"key\""))
        .count();
    assert_eq!(rows, 6, "{}", text(&done.stdout));
    let redirected = dir.join("redirected.txt");
    let mut command = vb(&emu);
    command
        .args(run_args(&input, "gs://runs/fifo", Path::new("/dev/stdout")))
        .stdout(std::fs::File::create(&redirected).unwrap())
        .stderr(std::process::Stdio::piped());
    let done = command.output().unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let written = std::fs::read_to_string(&redirected).unwrap();
    assert_eq!(
        written
            .lines()
            .filter(|line| line.starts_with("{\"key\""))
            .count(),
        6,
        "{written}"
    );

    // A device: /dev/null stays a device (as root, a rename would have replaced it).
    let done = run(&emu, &input, "fifo", Path::new("/dev/null"));
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let null = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(
        names_in(&dir)
            .iter()
            .filter(|n| n.contains("partial"))
            .count(),
        0
    );
}

#[test]
fn two_runs_with_one_out_share_no_temporary() {
    let dir = scratch("two-runs");
    let emu = start_emulator(&dir, &[]);
    let (small, large) = (dir.join("small.jsonl"), dir.join("large.jsonl"));
    write_input(&small, 30);
    write_input(&large, 70);
    let out = dir.join("results.jsonl");
    let spawn = |input: &Path, name: &str| {
        let mut command = vb(&emu);
        command
            .args(run_args(input, &format!("gs://runs/{name}"), &out))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command.spawn().unwrap()
    };
    let (first, second) = (spawn(&small, "two-small"), spawn(&large, "two-large"));
    for child in [first, second] {
        let done = child.wait_with_output().unwrap();
        assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    }
    // The file is one whole run's results, whichever moved its file last.
    let rows = results_of(&out).len();
    assert!(rows == 30 || rows == 70, "{rows} rows");
    assert_eq!(
        names_in(&dir)
            .into_iter()
            .filter(|name| name.contains("partial"))
            .count(),
        0
    );
}

/// `sh -c 'SETUP; exec vertex-batch ...'`: `$$` in SETUP is the pid `vertex-batch` runs as, so
/// a test can plant what a fixed, pid-named path would find.
#[cfg(unix)]
fn with_planted(setup: &str, command: &Command) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("{setup}; exec \"$0\" \"$@\""))
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    sh
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_download_into_a_private_folder_of_their_own() {
    let dir = scratch("results-tmp");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 10);
    let done = run(&emu, &input, "results-tmp", &dir.join("results.jsonl"));
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let job = jobs_of(&emu).await.pop().unwrap();

    let tmp = dir.join("tmp");
    let victim = dir.join("victim");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&victim).unwrap();
    // Stale rows where the pid-named folder was, and a link to another folder.
    std::fs::write(
        victim.join("predictions-00001.jsonl"),
        "{\"request\": {}, \"status\": \"stale\"}\n".repeat(15),
    )
    .unwrap();
    let planted = format!(
        "ln -s '{}' \"$TMPDIR/vertex-batch-results-$$\"",
        victim.display()
    );
    let mut command = vb(&emu);
    command.env("TMPDIR", &tmp).args(["results", &job.name]);
    let done = output(with_planted(&planted, &command));
    let stdout = text(&done.stdout);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(
        stdout.starts_with("10 rows: 10 succeeded, 0 failed"),
        "{stdout}"
    );
    assert_eq!(
        names_in(&victim),
        ["predictions-00001.jsonl"],
        "nothing written through the link"
    );
    assert_eq!(
        names_in(&tmp).len(),
        1,
        "the planted link only: {:?}",
        names_in(&tmp)
    );
}

#[cfg(unix)]
#[test]
fn the_emulators_key_folder_is_private_and_no_planted_link_is_followed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("emulator-dir");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    // --dir given: an old world-readable CA and a key.json planted as a link are replaced.
    let given = dir.join("given");
    std::fs::create_dir_all(&given).unwrap();
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "not a key").unwrap();
    std::os::unix::fs::symlink(&victim, given.join("key.json")).unwrap();
    std::fs::write(given.join("ca.pem"), "old").unwrap();
    std::fs::set_permissions(given.join("ca.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let _emu = start_emulator(&given, &[]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not a key");
    let key = given.join("key.json");
    assert!(std::fs::symlink_metadata(&key).unwrap().is_file());
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("private_key")
    );
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&given.join("ca.pem")), 0o600);

    // The default folder: private, made fresh, never the pid-named path planted beforehand.
    let tmp = dir.join("tmp");
    let planted_dir = dir.join("planted");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&planted_dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"));
    command.env("TMPDIR", &tmp).args(["--port", "0"]);
    let planted = format!(
        "ln -s '{}' \"$TMPDIR/vertex-batch-emulator-$$\"",
        planted_dir.display()
    );
    let launched = crate::support::process::Launched::start(with_planted(&planted, &command));
    let key = PathBuf::from(launched.line("  key file:").trim());
    assert!(key.starts_with(&tmp), "{}", key.display());
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(key.parent().unwrap()), 0o700);
    assert!(
        names_in(&planted_dir).is_empty(),
        "nothing written through the link"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_runs_scratch_folder_is_removed_by_the_next_run_and_its_own_too() {
    use std::os::unix::fs::DirBuilderExt;
    let dir = scratch("scratch-leftover");
    let emu = start_emulator(&dir, &[]);
    let input = dir.join("prompts.jsonl");
    write_input(&input, 5);
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // What a run killed with SIGKILL leaves: a private folder named after a pid now gone.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let leftover = tmp.join(format!("vertex-batch-run-{dead}-123456789-scratch"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&leftover)
        .unwrap();
    std::fs::write(leftover.join("lines"), "answers").unwrap();
    // Someone else's folder under a like name (not private) is no scratch folder of ours.
    let foreign = tmp.join(format!("vertex-batch-run-{dead}-987654321-scratch"));
    std::fs::create_dir_all(&foreign).unwrap();

    let mut command = vb(&emu);
    command.env("TMPDIR", &tmp).args(run_args(
        &input,
        "gs://runs/leftover",
        &dir.join("out.jsonl"),
    ));
    let done = output(command);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert_eq!(
        names_in(&tmp),
        [foreign.file_name().unwrap().to_string_lossy()],
        "the leftover and the run's own scratch folder are gone"
    );
}

/// A run stopped by SIGINT or SIGTERM removes its scratch folder (and leaves no temporary
/// beside `--out`): nothing of the prompts' keys or answers stays in the temporary directory.
#[cfg(unix)]
#[test]
fn a_run_stopped_by_a_signal_leaves_no_scratch_folder() {
    use std::io::{BufRead, BufReader};
    for signal in ["-INT", "-TERM"] {
        let dir = scratch(&format!("scratch-signal{signal}"));
        // The first job stays queued until cancelled: the run is still going when stopped.
        let emu = start_emulator(&dir, &["--stuck-jobs", "1"]);
        let input = dir.join("prompts.jsonl");
        write_input(&input, 5);
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let mut command = vb(&emu);
        command
            .env("TMPDIR", &tmp)
            .env("RUST_LOG", "vertex_batch::run::step=info")
            .args(run_args(&input, "gs://runs/signal", &dir.join("out.jsonl")))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        // Stopped once its job exists, with its scratch folder in use.
        for line in stderr.by_ref() {
            if line.unwrap().contains("job created") {
                break;
            }
        }
        assert_eq!(names_in(&tmp).len(), 1, "the run's scratch folder");
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let rest: Vec<String> = stderr.map_while(Result::ok).collect();
        assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");
        assert!(names_in(&tmp).is_empty(), "{signal}: {:?}", names_in(&tmp));
        assert!(
            !names_in(&dir).iter().any(|name| name.contains("partial")),
            "{:?}",
            names_in(&dir)
        );
    }
}
