//! The address bar's hash holds the plan form (`#key=value&…`, defaults left out), so a
//! link reproduces the settings; never the data, which stays in the browser.

/// The hash of the page's address (without `#`; empty when there is none).
pub fn current() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .map(|h| h.trim_start_matches('#').to_owned())
        .unwrap_or_default()
}

/// Puts `hash` in the address bar without a new history entry per keystroke (an empty
/// hash leaves the bare address).
pub fn show(hash: &str) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let bare =
        format!("{}{}", location.pathname().unwrap_or_default(), location.search().unwrap_or_default());
    let url = if hash.is_empty() { bare } else { format!("{bare}#{hash}") };
    if let Ok(history) = window.history() {
        // A refusal here (a sandboxed frame) only means the link is not updated.
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}
