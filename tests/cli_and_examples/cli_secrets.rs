//! The Vertex AI token and an emulator's Cloud Storage: a loopback listener stands in for
//! `STORAGE_EMULATOR_HOST` and records the headers of every request the CLI sends it. Without
//! `--storage-token` it must see no `authorization` header, as Google's storage clients send
//! none to an emulator host (the library's `Storage::from_env` agrees); with the flag it sees
//! the bearer token. Over plain HTTP beyond loopback the flag is refused before anything is
//! sent, naming what to change.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;

use crate::cli_run::{EmulatorProcess, output, scratch, start_emulator, text, vb};

/// A loopback listener that answers every request 404 (Google's JSON error, so the CLI ends
/// at once) and passes each request's header lines to the test before answering.
fn stand_in() -> (String, mpsc::Receiver<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let host = listener.local_addr().expect("an address").to_string();
    let (seen, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(clone) = stream.try_clone() else {
                return;
            };
            let mut reader = BufReader::new(clone);
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.trim_end().is_empty() => break,
                    Ok(_) => headers.push(line.trim_end().to_owned()),
                }
            }
            if headers.is_empty() {
                continue;
            }
            // Sent before the answer: once the CLI has its answer, the test has the headers.
            if seen.send(headers).is_err() {
                return;
            }
            let body = r#"{"error":{"code":404,"message":"No such object: bucket/run/manifest.json","errors":[{"reason":"notFound","message":"No such object"}]}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (host, requests)
}

/// `status gs://bucket/run` with the stand-in as `STORAGE_EMULATOR_HOST`; the headers of every
/// request it received.
fn status_against_stand_in(emu: &EmulatorProcess, extra: &[&str]) -> Vec<Vec<String>> {
    let (host, requests) = stand_in();
    let mut command: Command = vb(emu);
    command
        .env_remove("VERTEX_BATCH_STORAGE_TOKEN")
        .env("STORAGE_EMULATOR_HOST", &host)
        .args(["status", "gs://bucket/run"])
        .args(extra);
    let done = output(command);
    assert!(!done.status.success(), "no run there");
    let seen: Vec<Vec<String>> = requests.try_iter().collect();
    assert!(
        !seen.is_empty(),
        "the CLI asked the stand-in: {}",
        text(&done.stderr)
    );
    seen
}

fn authorization(headers: &[String]) -> Option<&String> {
    headers
        .iter()
        .find(|line| line.to_ascii_lowercase().starts_with("authorization:"))
}

#[test]
fn an_emulator_host_gets_the_token_only_when_asked() {
    let dir = scratch("secrets");
    let emu = start_emulator(&dir, &[]);
    for headers in status_against_stand_in(&emu, &[]) {
        assert_eq!(authorization(&headers), None, "{headers:#?}");
    }
    for headers in status_against_stand_in(&emu, &["--storage-token"]) {
        let auth = authorization(&headers).expect("a token when asked");
        assert!(
            auth["authorization:".len()..].trim().starts_with("Bearer "),
            "{auth}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A token is never sent over plain HTTP beyond this machine: `--storage-token` to such an
/// emulator is refused before any call, naming the setting and the flag.
#[test]
fn no_token_crosses_the_network_in_clear_text() {
    let dir = scratch("clear-text");
    let emu = start_emulator(&dir, &[]);
    for (env, flags, names) in [
        (
            Some("http://192.0.2.7:4443"),
            vec!["--storage-token"],
            "invalid STORAGE_EMULATOR_HOST: http://192.0.2.7:4443 is plain HTTP",
        ),
        (
            None,
            vec![
                "--storage-endpoint",
                "http://192.0.2.7:4443",
                "--storage-token",
            ],
            "invalid --storage-endpoint: http://192.0.2.7:4443 is plain HTTP",
        ),
    ] {
        let mut command = vb(&emu);
        command.env_remove("VERTEX_BATCH_STORAGE_TOKEN");
        match env {
            Some(host) => command.env("STORAGE_EMULATOR_HOST", host),
            None => command.env_remove("STORAGE_EMULATOR_HOST"),
        };
        command.args(["status", "gs://bucket/run"]).args(&flags);
        let done = output(command);
        let stderr = text(&done.stderr);
        assert_eq!(done.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(names), "{stderr}");
        assert!(stderr.contains("leave out --storage-token"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
