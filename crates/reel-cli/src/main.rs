//! `reel`: print, summarize and verify `.reel` recordings.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::process::ExitCode;

use reel::{Payload, Reader};

const USAGE: &str = "\
reel: inspect .reel recordings

Usage:
  reel print FILE        print every record, one per line
  reel stats FILE        print one line per entity: records, time span, scalar min/max
  reel verify FILE...    check every record; exit 1 on the first bad one, naming its byte offset
  reel --version | --help

Exit status: 0 ok, 1 a recording is invalid or unreadable, 2 bad usage.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, files) = match args.split_first() {
        Some((cmd, files)) => (cmd.as_str(), files),
        None => return usage_error("no command given"),
    };
    match cmd {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "-V" | "--version" => {
            println!("reel {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        "print" | "stats" if files.len() != 1 => {
            return usage_error(&format!("`reel {cmd}` takes exactly one FILE"));
        }
        "verify" if files.is_empty() => return usage_error("`reel verify` takes at least one FILE"),
        "print" | "stats" | "verify" => {}
        other => return usage_error(&format!("unknown command `{other}`")),
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut ok = true;
    for path in files {
        let result = match cmd {
            "print" => print(path, &mut out),
            "stats" => stats(path, &mut out),
            _ => verify(path, &mut out),
        };
        if let Err(e) = result {
            let _ = out.flush();
            eprintln!("reel: {path}: {e}");
            ok = false;
        }
    }
    if let Err(e) = out.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("reel: cannot write output: {e}");
            return ExitCode::FAILURE;
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("reel: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

fn open(path: &str) -> Result<Reader<BufReader<File>>, reel::Error> {
    Reader::new(BufReader::new(File::open(path)?))
}

fn print(path: &str, out: &mut impl Write) -> Result<(), reel::Error> {
    for record in open(path)? {
        let r = record?;
        match &r.payload {
            Payload::Scalar(v) => writeln!(out, "{}\t{}\t{v}", r.timestamp_ns, r.entity)?,
            Payload::Text(t) => writeln!(out, "{}\t{}\t{t:?}", r.timestamp_ns, r.entity)?,
        }
    }
    Ok(())
}

fn stats(path: &str, out: &mut impl Write) -> Result<(), reel::Error> {
    let records = open(path)?.collect::<Result<Vec<_>, _>>()?;
    let summary = reel::summarize(&records);
    writeln!(out, "{} records, {} entities", records.len(), summary.len())?;
    for s in summary {
        write!(out, "{}\trecords={}\tspan_ns={}..{}", s.entity, s.records, s.first_ns, s.last_ns)?;
        if let (Some(min), Some(max)) = (s.min, s.max) {
            write!(out, "\tmin={min}\tmax={max}")?;
        }
        if s.texts > 0 {
            write!(out, "\ttexts={}", s.texts)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn verify(path: &str, out: &mut impl Write) -> Result<(), reel::Error> {
    let mut reader = open(path)?;
    let mut n = 0u64;
    for record in reader.by_ref() {
        record?;
        n += 1;
    }
    writeln!(out, "{path}: ok, {n} records, {} bytes", reader.offset())?;
    Ok(())
}
