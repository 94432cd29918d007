//! What each command runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::install::{self, run};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository root exists")
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

/// `cargo xtask serve`: build the app (release) and serve it on 127.0.0.1:8080.
pub fn serve() -> Result<(), String> {
    let root = root();
    install::web_tools(&root)?;
    println!("xtask: building; the app will be at http://127.0.0.1:8080/ (Ctrl-C stops the server)");
    run(Command::new("trunk").args(["serve", "--release"]).current_dir(&root))
}

/// Where the test build of the app goes (kept apart from `serve`'s dist/).
fn test_dist(root: &Path) -> PathBuf {
    root.join("target/e2e-dist")
}

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
    install::system_packages()?;
    install::web_tools(&root)?;
    install::npm_packages(&root.join("tests/e2e"))?;
    let dist = test_dist(&root);
    let dist_arg = dist.to_string_lossy().into_owned();
    let webdriver = webdriver_json();
    std::fs::create_dir_all(root.join("target")).map_err(|e| e.to_string())?;
    let webdriver_path = root.join("target/webdriver.json");
    std::fs::write(&webdriver_path, webdriver).map_err(|e| e.to_string())?;

    let mut steps: Vec<(&str, Command)> = Vec::new();
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
    let mut doc = cargo(&root);
    doc.args(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings");
    steps.push(("cargo doc", doc));
    let mut native = cargo(&root);
    native.args(["test", "--workspace", "--exclude", "labelplan-web"]);
    steps.push(("native tests (GPU required: lavapipe)", native));
    let mut wasm = cargo(&root);
    wasm.args(["test", "--target", "wasm32-unknown-unknown", "-p", "labelplan-gpu", "-p", "labelplan-web"])
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver_path);
    steps.push(("wasm tests (headless Chromium, WebGPU)", wasm));
    let mut build = Command::new("trunk");
    build.args(["build", "--dist", &dist_arg]).current_dir(&root);
    steps.push(("trunk build", build));
    let mut e2e = Command::new("node");
    e2e.args(["--test", "--test-concurrency=1"])
        .arg("app.test.mjs")
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

/// `cargo xtask bench`: see `bench` in the README.
pub fn bench(_args: &[String]) -> Result<(), String> {
    Err("no benchmarks yet".into())
}
