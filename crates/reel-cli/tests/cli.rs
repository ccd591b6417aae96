//! Runs the real `reel` binary on recordings written by the library.

use std::path::PathBuf;
use std::process::{Command, Output};

fn reel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reel")).args(args).output().expect("run reel")
}

fn write_sample(name: &str) -> (PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("reel-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = reel::Writer::new(Vec::new()).unwrap();
    for i in 0..5 {
        w.log_scalar(i * 1_000, "sensor/temp", 20.0 + i as f64).unwrap();
    }
    w.log_text(9_000, "events", "door opened").unwrap();
    let bytes = w.finish().unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn verify_print_and_stats_on_a_good_file() {
    let (path, bytes) = write_sample("good.reel");
    let p = path.to_str().unwrap();
    let out = reel(&["verify", p]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("ok, 6 records, {} bytes", bytes.len())));

    let out = reel(&["print", p]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 6);
    assert!(stdout.contains("4000\tsensor/temp\t24"), "{stdout}");
    assert!(stdout.contains("\"door opened\""), "{stdout}");

    let out = reel(&["stats", p]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("6 records, 2 entities"), "{stdout}");
    assert!(stdout.contains("sensor/temp\trecords=5\tspan_ns=0..4000\tmin=20\tmax=24"), "{stdout}");
}

#[test]
fn verify_names_the_offset_of_a_truncated_or_corrupted_file() {
    let (path, bytes) = write_sample("bad.reel");
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let out = reel(&["verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("truncated recording") && err.contains("byte offset"), "{err}");

    let mut corrupt = bytes.clone();
    corrupt[20] ^= 0x40;
    std::fs::write(&path, &corrupt).unwrap();
    let out = reel(&["verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("corrupted record at byte offset 8"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(reel(&[]).status.code(), Some(2));
    assert_eq!(reel(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(reel(&["verify"]).status.code(), Some(2));
    let out = reel(&["verify", "/nonexistent/x.reel"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/x.reel"));
    assert!(reel(&["--help"]).status.success());
}
