//! Saving text the app made (plan.json) as a file: a Blob behind a temporary link.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Offers `text` as a download named `name`; returns what went wrong, if anything.
pub fn download(name: &str, mime: &str, text: &str) -> Result<(), String> {
    let why = |e: wasm_bindgen::JsValue| format!("could not save {name}: {e:?}");
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(why)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(why)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a").map_err(why)?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // Freed a minute later: revoking at once can cancel a download that has not started.
    let window = web_sys::window().ok_or("no window")?;
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    window
        .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000)
        .map_err(why)?;
    Ok(())
}
