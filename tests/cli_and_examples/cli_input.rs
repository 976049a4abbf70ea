//! `run`'s input as the command line reads it: a line past the limit (`/dev/zero`) is an error
//! naming the line and the limit, never an abort; a UTF-8 byte-order mark starts the file, not
//! the first prompt.

use std::path::Path;

use crate::cli_run::{output, run_args, scratch, start_emulator, text, vb};

#[cfg(unix)]
#[test]
fn an_endless_input_line_is_an_error_naming_the_line_and_the_limit() {
    let dir = scratch("input-zero");
    let emu = start_emulator(&dir, &[]);
    for text_flag in [false, true] {
        let out = dir.join("out.jsonl");
        let mut command = vb(&emu);
        command.args(run_args(Path::new("/dev/zero"), "gs://runs/zero", &out));
        if text_flag {
            command.arg("--text");
        }
        let done = output(command);
        let stderr = text(&done.stderr);
        assert_eq!(done.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(
                "INPUT line 1: is longer than the limit of 64 MiB (67108864 bytes) a line may have"
            ),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(!out.exists());
    }
}

#[test]
fn a_byte_order_mark_starts_the_file_not_the_first_prompt() {
    let dir = scratch("input-bom");
    let emu = start_emulator(&dir, &[]);
    let cases = [
        (
            "bom.jsonl",
            "\u{feff}{\"request\": {\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"first\"}]}]}, \"key\": \"a\"}\n",
            false,
        ),
        ("bom.txt", "\u{feff}first\nsecond\n", true),
    ];
    for (name, input_text, text_flag) in cases {
        let input = dir.join(name);
        std::fs::write(&input, input_text).unwrap();
        let out = dir.join(format!("{name}.out"));
        let mut command = vb(&emu);
        command.args(run_args(
            &input,
            &format!("gs://runs/bom-{text_flag}"),
            &out,
        ));
        if text_flag {
            command.arg("--text");
        }
        let done = output(command);
        assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
        let first: serde_json::Value = serde_json::from_str(
            std::fs::read_to_string(&out)
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        let answer = first["text"].as_str().unwrap();
        assert!(answer.ends_with(": first"), "{answer:?}");
        assert!(!answer.contains('\u{feff}'), "{answer:?}");
        let key = if text_flag { "1" } else { "a" };
        assert_eq!(first["key"], key);
    }
}
