//! The page's promise that data stays in the browser, with the evidence beside it: the
//! requests the page has made (the browser's own resource timing), all to its origin.

use wasm_bindgen::JsCast;
use yew::prelude::*;

/// This page's origin, the requests it has made so far, and those that went elsewhere.
fn requests() -> (String, usize, Vec<String>) {
    let Some(window) = web_sys::window() else { return (String::new(), 0, Vec::new()) };
    let origin = window.location().origin().unwrap_or_default();
    let names: Vec<String> = window
        .performance()
        .map(|p| p.get_entries_by_type("resource"))
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.dyn_into::<web_sys::PerformanceEntry>().ok())
                .map(|e| e.name())
                .collect()
        })
        .unwrap_or_default();
    let home = format!("{origin}/");
    let outside = names
        .iter()
        .filter(|n| !n.starts_with(&home) && !n.starts_with("blob:") && !n.starts_with("data:"))
        .cloned()
        .collect();
    (origin, names.len(), outside)
}

/// The footer: what happens to the user's data, and the requests that show it. A plain
/// function, not a component, so it counts again whenever the page renders.
pub fn footer() -> Html {
    let (origin, count, outside) = requests();
    let evidence = if outside.is_empty() {
        format!("So far it has made {count} requests, all to {origin}.")
    } else {
        format!(
            "So far it has made {count} requests, {} of them elsewhere: {}.",
            outside.len(),
            outside.join(", ")
        )
    };
    html! {
        <footer class="privacy" data-testid="privacy" data-elsewhere={outside.len().to_string()}>
            <strong>{ "Your data stays in this browser. " }</strong>
            { "Files are read and planned here (WebGPU or WebAssembly) and nothing is uploaded: the page may connect only to its own origin (its Content-Security-Policy says so), for its own code, the sample and the language model. " }
            <span data-testid="requests">{ evidence }</span>
        </footer>
    }
}
