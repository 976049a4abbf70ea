//! `vertex-batch results` on a local folder holding the golden lines
//! (`tests/data/golden_predictions.jsonl`, typed in from public samples of Vertex AI's output;
//! sources in `tests/data/golden_predictions.md`): the counts, the token totals, the failed
//! rows, and every row's prompt and answer.
#![cfg(feature = "cli")]

use std::path::PathBuf;

use crate::cli::bare;

/// A scratch folder holding the golden lines as `predictions.jsonl`, removed on drop.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("vertex-batch-golden-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let golden =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_predictions.jsonl");
        std::fs::copy(golden, dir.join("predictions.jsonl")).unwrap();
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn results(folder: &Folder, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = bare()
        .arg("results")
        .arg(&folder.0)
        .args(extra)
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BAD_ROLE: &str = r#"Bad Request: {"error": {"code": 400, "message": "Please use a valid role: user, model.", "status": "INVALID_ARGUMENT"}}"#;

#[test]
fn results_sums_up_the_golden_lines() {
    let folder = Folder::new("sums");
    let (code, out, err) = results(&folder, &[]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "5 rows: 3 succeeded, 2 failed", "{out}");
    assert_eq!(
        lines[1], "tokens: 29450 prompt, 150 candidates, 0 thoughts, 0 cached, 29600 total",
        "{out}"
    );
    assert!(
        lines[2].starts_with("2 failed, first ")
            && lines[2].ends_with(&format!("line 3: {BAD_ROLE}")),
        "{out}"
    );
}

#[test]
fn results_gives_each_golden_row_its_prompt_and_answer() {
    let folder = Folder::new("answers");
    let (code, out, err) = results(&folder, &["--answers", "jsonl"]);
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let seen: Vec<(u64, &str, bool, &str)> = rows
        .iter()
        .map(|row| {
            (
                row["line"].as_u64().unwrap(),
                row["prompt"].as_str().unwrap(),
                row["answer"].as_str().unwrap().is_empty(),
                row["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "List objects in this image.", false, ""),
            (
                2,
                "What is the relation between the following video and image samples?",
                false,
                ""
            ),
            (3, "Hello", true, BAD_ROLE),
            (4, "Hello", true, BAD_ROLE),
            (5, "Why is the sky blue?", false, ""),
        ]
    );
    assert_eq!(rows[4]["answer"], "Rayleigh scattering.");
}
