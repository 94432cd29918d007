//! Installs the tools the commands need, each only when missing or at the wrong version.

use std::path::Path;
use std::process::Command;

/// Trunk's version series (0.22 needs a newer rustc than 1.95).
const TRUNK_VERSION: &str = "0.21";
/// Debian packages the wasm build needs: clang and llvm-ar compile zstd's C code (Parquet
/// pages) for wasm32.
pub const BUILD_PACKAGES: &[&str] = &["clang", "llvm"];
/// Debian packages the tests need besides: lavapipe (Vulkan on the CPU) and Chromium with
/// its driver (SwiftShader WebGPU).
pub const TEST_PACKAGES: &[&str] = &["clang", "llvm", "mesa-vulkan-drivers", "chromium", "chromium-driver"];

/// Runs a command, failing with its name when it cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// A command's standard output, or None when it cannot run or fails.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The wasm32 target for rustc.
pub fn wasm_target() -> Result<(), String> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    println!("xtask: adding the wasm32-unknown-unknown target");
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// The wasm-bindgen version Cargo.lock resolved.
pub fn locked_wasm_bindgen(root: &Path) -> Result<String, String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

/// Trunk 0.21 and wasm-bindgen-cli at Cargo.lock's wasm-bindgen version.
pub fn web_tools(root: &Path) -> Result<(), String> {
    wasm_target()?;
    let trunk = output("trunk", &["--version"]).unwrap_or_default();
    if !trunk.trim().starts_with(&format!("trunk {TRUNK_VERSION}.")) {
        println!("xtask: installing trunk {TRUNK_VERSION} (about 10 minutes on 2 cores)");
        // Trunk's own release profile links with fat LTO in one codegen unit: minutes of
        // a fresh machine's time for a tool that spends its time waiting on cargo. Its
        // update check is left out (no request leaves the machine).
        run(Command::new("cargo")
            .args(["install", "--locked", "trunk", "--version", &format!("~{TRUNK_VERSION}")])
            .args(["--no-default-features", "--features", "rustls"])
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"))?;
    }
    let want = locked_wasm_bindgen(root)?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(want.as_str()) {
        println!("xtask: installing wasm-bindgen-cli {want} (about 5 minutes)");
        // Not --locked: its lock file names a dependency version the registry here lacks.
        run(Command::new("cargo").args(["install", "--force", "wasm-bindgen-cli", "--version", &want]))?;
    }
    Ok(())
}

fn dpkg_installed(package: &str) -> bool {
    output("dpkg-query", &["-W", "-f=${Status}", package]).is_some_and(|s| s.contains("install ok installed"))
}

/// Debian packages, installed with apt-get when root; otherwise says what to install.
pub fn system_packages(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !dpkg_installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    let has_apt = Path::new("/usr/bin/apt-get").exists();
    if !(is_root && has_apt) {
        return Err(format!(
            "these system packages are needed: {}. On Debian run as root: apt-get install {}",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    println!("xtask: installing {} with apt-get", missing.join(", "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// playwright-core from the committed lock file, when node_modules is missing or stale.
pub fn npm_packages(dir: &Path) -> Result<(), String> {
    let stamp = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let fresh = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified().ok() >= l.modified().ok(),
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    println!("xtask: installing the browser tests' npm packages");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(dir))
}

/// cargo-fuzz's version series, and the nightly toolchain it builds with.
const CARGO_FUZZ_VERSION: &str = "0.13";

/// cargo-fuzz and a nightly toolchain (libFuzzer's instrumentation needs nightly).
pub fn cargo_fuzz() -> Result<(), String> {
    let toolchains = output("rustup", &["toolchain", "list"]).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        println!("xtask: installing the nightly toolchain (cargo fuzz builds with it)");
        run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    let have = output("cargo", &["fuzz", "--version"]).unwrap_or_default();
    if !have.trim().starts_with(&format!("cargo-fuzz {CARGO_FUZZ_VERSION}.")) {
        println!("xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} (about a minute)");
        run(Command::new("cargo").args([
            "install",
            "--locked",
            "cargo-fuzz",
            "--version",
            &format!("~{CARGO_FUZZ_VERSION}"),
        ]))?;
    }
    Ok(())
}
