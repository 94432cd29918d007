//! `cargo xtask fuzz [--seconds N] [TARGET…]`: every coverage-guided fuzz target of
//! `tests/fuzz` (cargo-fuzz, libFuzzer) for N seconds each, seeded from
//! `tests/fuzz/seeds/<target>/` and the findings kept in `tests/fixtures/fuzz/<target>/`;
//! prints the executions and findings per target and fails when any target found
//! something.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::install::{self, run};

/// The fuzz project (outside the workspace: nightly and libFuzzer only).
const FUZZ_DIR: &str = "tests/fuzz";
/// Findings turned into fixtures: each target's folder seeds it and a test reads it.
const REGRESSIONS: &str = "tests/fixtures/fuzz";
/// The fuzz build and its working corpora, kept between runs on one machine.
const WORK: &str = "target/fuzz";
/// The last run's summary with each finding's first lines, or its error: `cargo xtask
/// test` prints it when the step fails, so the end of a CI log names the finding.
pub const REPORT: &str = "target/fuzz/report.txt";
/// Seconds per target when none are asked for.
const DEFAULT_SECONDS: u64 = 60;
/// One allocation above this is a finding: a reader must refuse a declared size it
/// cannot hold before allocating it (the targets read with a 64 MiB limit).
const MALLOC_LIMIT_MB: &str = "512";
/// Resident memory above this is a finding (an allocation that grows unbounded).
const RSS_LIMIT_MB: &str = "1536";
/// One input running longer than this is a finding (a hang).
const TIMEOUT_S: &str = "10";

/// The fuzz targets (tests/fuzz/fuzz_targets/), each seeded from
/// `tests/fuzz/seeds/<target>/` (tiny valid inputs: tests/fuzz/make_seeds.py).
const TARGETS: &[&str] = &[
    "read_npy",
    "read_npz",
    "read_safetensors",
    "read_csv",
    "read_tsv",
    "read_jsonl",
    "read_parquet",
    "sidecar",
    "manifest",
    "settings_link",
    "gguf",
];

/// What one target's run gave.
struct Outcome {
    name: String,
    seconds: f64,
    executions: u64,
    findings: Vec<PathBuf>,
    /// What the log says of its crash: the panic message and libFuzzer's or the
    /// sanitizer's error line (empty when nothing crashed).
    crash: Vec<String>,
}

/// `cargo xtask fuzz [--seconds N] [TARGET…]`.
pub fn fuzz(root: &Path, args: &[String]) -> Result<(), String> {
    // A report left from an earlier run must not stand for this one.
    let _ = std::fs::remove_file(root.join(REPORT));
    let (seconds, names) = parse_args(args)?;
    if let Some(unknown) = names.iter().find(|n| !TARGETS.contains(&n.as_str())) {
        return Err(format!("no fuzz target {unknown:?}; the targets are {}", TARGETS.join(", ")));
    }
    let targets = if names.is_empty() { TARGETS.iter().map(|t| t.to_string()).collect() } else { names };
    let (summary, result) = match run_all(root, &targets, seconds) {
        Ok(outcomes) => {
            let summary = report(&outcomes);
            print!("{summary}");
            let found: usize = outcomes.iter().map(|o| o.findings.len()).sum();
            let result = if found == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{found} finding(s): reproduce one with `cargo +nightly fuzz run --fuzz-dir {FUZZ_DIR} -O -a --codegen-units 16 --target-dir {WORK}/build TARGET FILE`, fix it, and keep the file in {REGRESSIONS}/TARGET/"
                ))
            };
            (summary, result)
        }
        Err(e) => (String::new(), Err(e)),
    };
    let error = result.as_ref().err().map_or(String::new(), |e| format!("{e}\n"));
    let _ = std::fs::write(root.join(REPORT), summary + &error);
    result
}

/// Builds and runs every target in turn.
fn run_all(root: &Path, targets: &[String], seconds: u64) -> Result<Vec<Outcome>, String> {
    install::cargo_fuzz()?;
    run(&mut fuzz_cargo(root, "build"))?;
    targets.iter().map(|target| run_target(root, target, seconds)).collect()
}

fn parse_args(args: &[String]) -> Result<(u64, Vec<String>), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut names = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--seconds" {
            let value = rest.next().ok_or("--seconds needs a number")?;
            seconds = value.parse().map_err(|_| format!("--seconds {value:?}: expected whole seconds"))?;
        } else {
            names.push(arg.clone());
        }
    }
    Ok((seconds, names))
}

/// `cargo +nightly fuzz SUBCOMMAND` on the fuzz project: optimised, with debug
/// assertions (integer overflow is a finding), AddressSanitizer (its allocator enforces
/// the malloc limit), the build kept under target/. 16 codegen units, as cargo-fuzz
/// suggests for faster builds: its default of one made a fresh build take 15 minutes on
/// 2 cores, for a smoke step that then runs 2.
fn fuzz_cargo(root: &Path, subcommand: &str) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root).args(["+nightly", "fuzz", subcommand, "--fuzz-dir", FUZZ_DIR, "-O", "-a"]);
    cmd.args(["--codegen-units", "16"]);
    cmd.arg("--target-dir").arg(root.join(WORK).join("build"));
    cmd
}

fn run_target(root: &Path, target: &str, seconds: u64) -> Result<Outcome, String> {
    let corpus = root.join(WORK).join("corpus").join(target);
    let artifacts = root.join(WORK).join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let before = files(&artifacts);
    let seeds = root.join(FUZZ_DIR).join("seeds").join(target);
    let regressions = root.join(REGRESSIONS).join(target);
    let log = root.join(WORK).join(format!("{target}.log"));
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = fuzz_cargo(root, "run");
    cmd.arg(target).arg(&corpus).arg(&seeds);
    if regressions.is_dir() {
        cmd.arg(&regressions);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-timeout={TIMEOUT_S}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stderr(log_file);
    println!("\n==== fuzz: {target} ({seconds} s; log {}) ====", log.display());
    let started = Instant::now();
    let status = cmd.status().map_err(|e| format!("could not start cargo fuzz: {e}"))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let executions = text
        .lines()
        .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum();
    let findings: Vec<PathBuf> = files(&artifacts).into_iter().filter(|f| !before.contains(f)).collect();
    let crash = crash_lines(&text);
    if !status.success() && findings.is_empty() {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("fuzz target {target} failed ({status}):\n{}", tail.join("\n")));
    }
    Ok(Outcome {
        name: target.to_owned(),
        seconds: started.elapsed().as_secs_f64(),
        executions,
        findings,
        crash,
    })
}

/// What a libFuzzer log says of its crash: libFuzzer's or the sanitizer's error line,
/// after the panic message that led to it (a panic the code under test caught prints its
/// message too, so only the last one before the error counts). Empty when nothing crashed.
fn crash_lines(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let Some(error) = lines.iter().position(|l| l.starts_with("==") && l.contains("ERROR")) else {
        return Vec::new();
    };
    let panic = lines[..error].iter().rposition(|l| l.contains("panicked at"));
    let message = panic.map_or(&[][..], |p| &lines[p..(p + 2).min(error)]);
    message.iter().chain([&lines[error]]).map(|l| l.to_string()).collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn report(outcomes: &[Outcome]) -> String {
    let mut out = String::from("\n==== fuzz: summary ====\n");
    out += &format!(
        "{:<18} {:>8} {:>14} {:>10} {:>9}\n",
        "target", "seconds", "executions", "exec/s", "findings"
    );
    for o in outcomes {
        out += &format!(
            "{:<18} {:>8.0} {:>14} {:>10.0} {:>9}\n",
            o.name,
            o.seconds,
            o.executions,
            o.executions as f64 / o.seconds.max(1e-9),
            o.findings.len()
        );
        for f in &o.findings {
            out += &format!("    finding: {}\n", f.display());
        }
        for line in &o.crash {
            out += &format!("      {line}\n");
        }
    }
    let total: u64 = outcomes.iter().map(|o| o.executions).sum();
    let found: usize = outcomes.iter().map(|o| o.findings.len()).sum();
    out += &format!("total: {total} executions, {found} findings\n");
    out
}

#[cfg(test)]
mod tests {
    use super::crash_lines;

    #[test]
    fn a_finding_is_named_by_its_panic_and_error_lines() {
        let caught = "thread '<unnamed>' panicked at arrow-buffer/src/util/bit_chunk_iterator.rs:235:9:\noffset + len out of bounds\n";
        let panic = "thread '<unnamed>' panicked at fuzz_targets/manifest.rs:16:17:\nassertion `left == right` failed: settings survive\n  left: \"a\"\n==77== ERROR: libFuzzer: deadly signal\n";
        assert_eq!(
            crash_lines(&format!("#1024\tpulse cov: 1\n{caught}{panic}")),
            [
                "thread '<unnamed>' panicked at fuzz_targets/manifest.rs:16:17:",
                "assertion `left == right` failed: settings survive",
                "==77== ERROR: libFuzzer: deadly signal"
            ]
        );
        let timeout = "#5\tNEW cov: 2\n==4242== ERROR: libFuzzer: timeout after 11 seconds\n";
        assert_eq!(crash_lines(timeout), ["==4242== ERROR: libFuzzer: timeout after 11 seconds"]);
        assert!(crash_lines(&format!("{caught}#5\tDONE cov: 2\nDone 5 runs in 1 second(s)\n")).is_empty());
    }
}
