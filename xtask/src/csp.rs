//! `cargo xtask csp`: Trunk's post-build hook. Puts a strict Content-Security-Policy in
//! the built page: scripts only from the page's origin plus Trunk's inline loader (by
//! its SHA-256, which changes with every build), WebAssembly compiled, workers from the
//! page's own blob URLs (yew-agent starts the worker that way), fetches to the origin
//! only, nothing else. Yew writes `style` attributes, so those are allowed inline;
//! style sheets come from the origin.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Where the policy goes: right after the charset, before anything it governs.
const ANCHOR: &str = "<meta charset=\"utf-8\" />";

/// The policy for a page whose inline scripts have these `'sha256-…'` sources.
fn policy(script_hashes: &[String]) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {}; worker-src 'self' blob:; \
         connect-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; \
         base-uri 'none'; form-action 'none'",
        script_hashes.join(" ")
    )
}

/// The text of every inline `<script>` (one without `src`) in `html`.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find("<script") {
        let Some(tag_end) = rest[open..].find('>').map(|e| open + e + 1) else { break };
        let Some(close) = rest[tag_end..].find("</script>").map(|c| tag_end + c) else { break };
        if !rest[open..tag_end].contains("src=") {
            out.push(&rest[tag_end..close]);
        }
        rest = &rest[close..];
    }
    out
}

/// `html` with the policy meta tag after its charset.
pub fn with_policy(html: &str) -> Result<String, String> {
    let hashes: Vec<String> = inline_scripts(html)
        .iter()
        .map(|s| format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s))))
        .collect();
    let at = html.find(ANCHOR).ok_or_else(|| format!("the page has no {ANCHOR} to put the policy after"))?;
    let meta =
        format!("\n    <meta http-equiv=\"Content-Security-Policy\" content=\"{}\" />", policy(&hashes));
    let end = at + ANCHOR.len();
    Ok(format!("{}{meta}{}", &html[..end], &html[end..]))
}

/// The hook: rewrites `$TRUNK_STAGING_DIR/index.html`.
pub fn run() -> Result<(), String> {
    let dir =
        std::env::var("TRUNK_STAGING_DIR").map_err(|_| "csp runs as Trunk's post-build hook".to_owned())?;
    let path = std::path::Path::new(&dir).join("index.html");
    let html = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(&path, with_policy(&html)?).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_each_inline_script_by_its_hash() {
        let page = "<head><meta charset=\"utf-8\" /><script type=\"module\">go();</script>\
                    <script src=\"a.js\"></script></head>";
        let out = with_policy(page).expect("a page with a charset");
        // SHA-256 of "go();", base64.
        let want = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"go();"));
        assert!(out.contains(&format!("script-src 'self' 'wasm-unsafe-eval' 'sha256-{want}';")), "{out}");
        assert_eq!(out.matches("sha256-").count(), 1, "the external script needs no hash");
        assert!(out.find("Content-Security-Policy") < out.find("<script"), "the policy comes first");
        assert!(with_policy("<head></head>").is_err());
    }
}
