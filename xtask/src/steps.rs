//! What each command runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::assets;
use crate::install::{self, run};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository root exists")
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

/// `cargo xtask fetch`: the model and the held-out text.
pub fn fetch() -> Result<(), String> {
    assets::fetch(&root())
}

/// `cargo xtask fuzz [--seconds N] [TARGET…]`.
pub fn fuzz(args: &[String]) -> Result<(), String> {
    crate::fuzz::fuzz(&root(), args)
}

/// Where the trained sparsity sets are kept (committed; the page serves them).
pub const SPARSITY_DIR: &str = "web/sparsity";

/// Held-out tokens the shipped sets' evaluation reads.
const EVALUATION_TOKENS: &str = "256";

/// `cargo xtask train-routers [ARGS]`: LTE routers trained on the State of the Union
/// text and the baselines, written to [`SPARSITY_DIR`] (`ARGS` go to the trainer, e.g.
/// `--eta=1,2`; none: the shipped sets), then every set there evaluated on the held-out
/// Moby Dick into the folder's manifest.
pub fn train_routers(args: &[String]) -> Result<(), String> {
    let root = root();
    let model = assets::model(&root)?;
    let text = assets::training_text(&root)?;
    let dir = root.join(SPARSITY_DIR);
    run(cargo(&root)
        .args(["run", "--release", "-p", "labelplan-train", "--bin", "train-routers", "--"])
        .arg(&model)
        .arg(text)
        .arg(&dir)
        .args(args))?;
    let mut sets: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    sets.sort();
    run(cargo(&root)
        .args(["run", "--release", "-p", "labelplan-cli", "--bin", "labelplan-lm", "--", "eval"])
        .arg(&model)
        .arg(assets::text(&root)?)
        .args(["--tokens", EVALUATION_TOKENS, "--routers"])
        .args(&sets)
        .arg("--manifest")
        .arg(dir.join("manifest.json")))
}

/// `cargo xtask serve`: build the app (release) and serve it on 127.0.0.1:8080.
pub fn serve() -> Result<(), String> {
    let root = root();
    assets::fetch(&root)?;
    install::system_packages(install::BUILD_PACKAGES)?;
    install::web_tools(&root)?;
    println!("xtask: building; the app will be at http://127.0.0.1:8080/ (Ctrl-C stops the server)");
    run(Command::new("trunk").args(["serve", "--release"]).current_dir(&root))
}

/// Where the test build of the app goes (kept apart from `serve`'s dist/).
fn test_dist(root: &Path) -> PathBuf {
    root.join("target/e2e-dist")
}

/// Seconds each fuzz target runs in `cargo xtask test`.
const FUZZ_SMOKE_SECONDS: &str = "10";

/// Flags that give headless Chromium SwiftShader's WebGPU (DESIGN.md).
const CHROMIUM_WEBGPU_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--use-vulkan=swiftshader",
    "--use-webgpu-adapter=swiftshader",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// `cargo xtask test`: every check, each run even when one before failed; exits non-zero
/// when any failed.
pub fn test() -> Result<(), String> {
    let root = root();
    assets::fetch(&root)?;
    install::system_packages(install::TEST_PACKAGES)?;
    install::web_tools(&root)?;
    install::npm_packages(&root.join("tests/e2e"))?;
    let dist = test_dist(&root);
    let dist_arg = dist.to_string_lossy().into_owned();
    let webdriver = webdriver_json();
    std::fs::create_dir_all(root.join("target")).map_err(|e| e.to_string())?;
    let webdriver_path = root.join("target/webdriver.json");
    std::fs::write(&webdriver_path, webdriver).map_err(|e| e.to_string())?;

    let mut steps: Vec<(&str, Command)> = Vec::new();
    let fuzz_step = "fuzz smoke (every target, 10 s each)";
    let mut fmt = cargo(&root);
    fmt.args(["fmt", "--all", "--check"]);
    steps.push(("rustfmt", fmt));
    let mut clippy = cargo(&root);
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    steps.push(("clippy (native)", clippy));
    let mut clippy_wasm = cargo(&root);
    clippy_wasm.args([
        "clippy",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "labelplan-web",
        "-p",
        "labelplan-gpu",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    steps.push(("clippy (wasm32)", clippy_wasm));
    // The engine's libraries must build for the browser worker too (their tests read
    // fixture files and run natively only).
    let mut clippy_engine = cargo(&root);
    clippy_engine.args([
        "clippy",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "labelplan-select",
        "-p",
        "labelplan-cpu",
        "-p",
        "labelplan-run",
        "-p",
        "labelplan-lm",
        "--lib",
        "--",
        "-D",
        "warnings",
    ]);
    steps.push(("clippy (wasm32, engine)", clippy_engine));
    let mut doc = cargo(&root);
    doc.args(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings");
    steps.push(("cargo doc", doc));
    // The page's pure logic (the plan form, its link) runs natively with the rest, in one
    // build: a build of labelplan-web alone resolves its dependencies' features apart
    // and compiles them again (its browser tests are wasm32-only).
    let mut native = cargo(&root);
    native.args(["test", "--workspace"]);
    steps.push(("native tests (GPU required: lavapipe)", native));
    // Every fuzz target briefly, from its seeds and the kept findings (which must all read
    // cleanly again): a regression or a shallow new crash fails the run. The long runs
    // are `cargo xtask fuzz` alone.
    let mut fuzz = cargo(&root);
    fuzz.args(["xtask", "fuzz", "--seconds", FUZZ_SMOKE_SECONDS]);
    steps.push((fuzz_step, fuzz));
    let mut wasm = cargo(&root);
    wasm.args(["test", "--target", "wasm32-unknown-unknown", "-p", "labelplan-gpu", "-p", "labelplan-web"])
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300")
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver_path);
    steps.push(("wasm tests (headless Chromium, WebGPU)", wasm));
    let mut build = Command::new("trunk");
    build.args(["build", "--dist", &dist_arg]).current_dir(&root);
    steps.push(("trunk build", build));
    let mut e2e = Command::new("node");
    e2e.args(["--test", "--test-concurrency=1"])
        .args(["app.test.mjs", "model.test.mjs"])
        .env("LABELPLAN_DIST", &dist)
        .current_dir(root.join("tests/e2e"));
    steps.push(("browser end-to-end tests", e2e));

    let mut report = Vec::new();
    for (name, mut cmd) in steps {
        println!("\n==== xtask test: {name} ====");
        let started = Instant::now();
        let ok = run(&mut cmd).map_err(|e| eprintln!("xtask: {e}")).is_ok();
        report.push((name, ok, started.elapsed().as_secs_f64()));
    }
    println!("\n==== xtask test: summary ====");
    for (name, ok, secs) in &report {
        println!("{:4}  {name} ({secs:.0} s)", if *ok { "ok" } else { "FAIL" });
    }
    // The fuzz step's findings, shown again after the summary: a CI log is read from its
    // end, and the step's own summary scrolls by above the later steps.
    if report.iter().any(|(name, ok, _)| *name == fuzz_step && !ok) {
        let path = root.join(crate::fuzz::REPORT);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("{}: {e}\n", path.display()));
        println!("\n==== xtask test: {fuzz_step}: what failed ====\n{}", text.trim_end());
    }
    let failed = report.iter().filter(|(_, ok, _)| !ok).count();
    println!("steps: {} passed, {failed} failed", report.len() - failed);
    if failed > 0 {
        Err(format!("{failed} step(s) failed"))
    } else {
        Ok(())
    }
}

/// wasm-bindgen-test-runner's WebDriver capabilities: Chromium with WebGPU on.
fn webdriver_json() -> String {
    let args: Vec<String> = CHROMIUM_WEBGPU_ARGS.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "{{\"goog:chromeOptions\": {{\"binary\": \"/usr/bin/chromium\", \"args\": [{}]}}}}\n",
        args.join(", ")
    )
}

/// Mean time of a criterion benchmark, in seconds, from its saved estimates.
fn criterion_mean_seconds(root: &Path, group: &str, function: &str) -> Result<f64, String> {
    let path = root.join(format!("target/criterion/{group}/{function}/new/estimates.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // {"mean":{"confidence_interval":{...},"point_estimate":N,...
    let mean = text.split("\"mean\"").nth(1).ok_or("no mean in estimates.json")?;
    let value = mean.split("\"point_estimate\":").nth(1).ok_or("no point_estimate in estimates.json")?;
    let number: String = value.chars().take_while(|c| c.is_ascii_digit() || ".eE+-".contains(*c)).collect();
    number.parse::<f64>().map(|ns| ns / 1e9).map_err(|e| format!("estimates.json: {e}"))
}

/// `cargo xtask bench`: parse throughput of a 200 MiB `.npy`, natively (criterion,
/// against `std::fs::read` of the same file) and in headless Chromium (the release app,
/// against raw Blob slice reads), plus the browser's peak memory while loading.
pub fn bench(which: Option<&str>) -> Result<(), String> {
    match which {
        None => {
            parse_bench()?;
            scale_bench()?;
            gpu_bench()
        }
        Some("parse") => parse_bench(),
        Some("scale") => scale_bench(),
        Some("gpu") => gpu_bench(),
        Some("lm") => lm_bench(),
        Some(other) => Err(format!("unknown benchmark {other:?}; expected parse, scale, gpu or lm")),
    }
}

/// The default plan of the largest pool, through the CLI: rows × dims.
const LARGEST: (usize, usize) = (1_000_000, 384);

/// `cargo xtask bench scale`: every method at 12.5k–100k × 384 through the engine API
/// (CPU, release; with the in-process k-means baseline and the growth exponents), the
/// default plan of 1M × 384 through the CLI under `/usr/bin/time -v` (wall time, peak
/// resident memory against the matrix's bytes, and its own baseline), then the default
/// plan of 100k × 384 in headless Chromium on the CPU path and on WebGPU.
fn scale_bench() -> Result<(), String> {
    let root = root();
    install::system_packages(&["time"])?;
    let scale = ["run", "--release", "-p", "labelplan-select", "--example", "scale", "--"];
    println!("\n==== scale: every method, 12.5k-100k x 384, engine API, CPU backend ====");
    run(cargo(&root).args(scale).args(["--rows", "12500,25000,50000,100000", "--dim", "384"]))?;
    let (rows, dim) = LARGEST;
    println!("\n==== scale: {rows} x {dim}: baseline k-means in-process, then the default plan through the CLI ====");
    run(cargo(&root).args(scale).args([
        "--rows",
        &rows.to_string(),
        "--dim",
        &dim.to_string(),
        "--methods",
        "none",
        "--write-npy",
    ]))?;
    run(cargo(&root).args(["build", "--release", "-p", "labelplan-cli"]))?;
    let npy = root.join(format!("target/bench/synthetic_{rows}x{dim}.npy"));
    let report = root.join("target/bench/plan-1m-time.txt");
    run(Command::new("/usr/bin/time")
        .arg("-v")
        .arg("-o")
        .arg(&report)
        .arg(root.join("target/release/labelplan"))
        .args(["plan", "--backend", "cpu", "--budget", "1%", "--budget", "5%", "--out"])
        .arg(root.join("target/bench/plan-1m"))
        .arg(&npy))?;
    let text = std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
    let field = |name: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix(name)).map(str::trim).unwrap_or("?").to_string()
    };
    let peak_kb: f64 = field("Maximum resident set size (kbytes):").parse().unwrap_or(f64::NAN);
    let matrix = (rows * dim * 4) as f64;
    println!(
        "CLI default plan, {rows} x {dim}: wall {}, peak resident {:.2} GB = {:.2} x the matrix ({:.2} GB)",
        field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
        peak_kb * 1024.0 / 1e9,
        peak_kb * 1024.0 / matrix,
        matrix / 1e9
    );
    std::fs::remove_file(&npy).map_err(|e| format!("{}: {e}", npy.display()))?;
    browser_plans(&root, "large")
}

/// Builds the app (release) and times whole plans in headless Chromium on WebGPU and on
/// the CPU fallback: `cases` is `small` (the sample, 10k × 128), `large` (100k × 384).
fn browser_plans(root: &Path, cases: &str) -> Result<(), String> {
    install::system_packages(install::TEST_PACKAGES)?;
    install::web_tools(root)?;
    install::npm_packages(&root.join("tests/e2e"))?;
    let dist = root.join("target/bench-dist");
    run(Command::new("trunk").args(["build", "--release", "--dist"]).arg(&dist).current_dir(root))?;
    println!("\n==== whole plans in headless Chromium ({cases}), WebGPU vs CPU fallback ====");
    run(Command::new("node")
        .args(["bench_plan.mjs", cases])
        .env("LABELPLAN_DIST", &dist)
        .current_dir(root.join("tests/e2e")))
}

/// GPU backend against the CPU backend natively (lavapipe here: `--backend gpu` runs on
/// whatever Vulkan adapter exists), the 1M × 128 run over the binding limit, and whole
/// plans in headless Chromium on WebGPU against the app's CPU fallback.
fn gpu_bench() -> Result<(), String> {
    let root = root();
    install::system_packages(install::TEST_PACKAGES)?;
    let bench = ["run", "--release", "-p", "labelplan-gpu", "--example", "bench", "--"];
    println!("\n==== GPU benchmark: kernels and a whole ELFS plan, GPU vs CPU, 100k x 384 ====");
    run(cargo(&root).args(bench).arg("--plan"))?;
    println!("\n==== GPU benchmark: 1M x 128 f32 (512 MB) k-means + k-center on the GPU ====");
    run(cargo(&root).args(bench).arg("--large"))?;
    browser_plans(&root, "small")
}

/// `cargo xtask bench lm`: the language model's prefill and decode natively (CPU pass
/// with both products, candle in the same process, the GPU pass on lavapipe or whatever
/// adapter there is) and in headless Chromium (WebGPU and the CPU path).
fn lm_bench() -> Result<(), String> {
    let root = root();
    install::system_packages(install::TEST_PACKAGES)?;
    assets::fetch(&root)?;
    println!("\n==== language model: CPU pass, candle and GPU pass, natively ====");
    run(cargo(&root).args(["run", "--release", "-p", "labelplan-lm", "--example", "bench_lm"]))?;
    install::web_tools(&root)?;
    install::npm_packages(&root.join("tests/e2e"))?;
    let dist = root.join("target/bench-dist");
    run(Command::new("trunk").args(["build", "--release", "--dist"]).arg(&dist).current_dir(&root))?;
    println!("\n==== language model in headless Chromium: WebGPU and the CPU path ====");
    run(Command::new("node")
        .arg("bench_lm.mjs")
        .env("LABELPLAN_DIST", &dist)
        .current_dir(root.join("tests/e2e")))
}

/// `cargo xtask quality`: every method on every set of the quality suite, judged with true
/// labels by the fixed probe, and the default's recommendation against the true curve,
/// written to docs/quality.md.
pub fn quality() -> Result<(), String> {
    let root = root();
    run(cargo(&root).args([
        "run",
        "--release",
        "-p",
        "labelplan-select",
        "--example",
        "quality",
        "--",
        "docs/quality.md",
    ]))
}

fn parse_bench() -> Result<(), String> {
    let root = root();
    install::system_packages(install::TEST_PACKAGES)?;
    install::web_tools(&root)?;
    install::npm_packages(&root.join("tests/e2e"))?;
    run(cargo(&root).args(["bench", "-p", "labelplan-core", "--bench", "parse"]))?;
    let file = root.join("target/bench/embeddings_200mb.npy");
    let mb = std::fs::metadata(&file).map_err(|e| format!("{}: {e}", file.display()))?.len() as f64 / 1e6;
    let group = "parse_200mb_npy";
    let native = criterion_mean_seconds(&root, group, "read_path")?;
    let baseline = criterion_mean_seconds(&root, group, "baseline_fs_read")?;

    let dist = root.join("target/bench-dist");
    run(Command::new("trunk").args(["build", "--release", "--dist"]).arg(&dist).current_dir(&root))?;
    let out = Command::new("node")
        .arg("bench_parse.mjs")
        .arg(&file)
        .env("LABELPLAN_DIST", &dist)
        .current_dir(root.join("tests/e2e"))
        .output()
        .map_err(|e| format!("node: {e}"))?;
    let browser = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "the browser benchmark failed:\n{browser}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    println!("\n==== parse benchmark: {mb:.1} MB float32 .npy ====");
    println!("native  labelplan read_path   {:8.1} MB/s  ({native:.3} s)", mb / native);
    println!("native  baseline fs::read     {:8.1} MB/s  ({baseline:.3} s)", mb / baseline);
    println!("native  parse / raw read time {:8.2}x", native / baseline);
    println!("browser (JSON, see tests/e2e/bench_parse.mjs): {}", browser.trim());
    Ok(())
}
