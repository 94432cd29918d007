//! A worker that panics stops for good (a wasm32 panic aborts; it cannot unwind), and
//! yew-agent's bridge never hears of it. So the worker's panic hook also posts the panic
//! on a BroadcastChannel of this origin, apart from the bridge's messages, and the page
//! listens there to say so, with a reload button, keeping what it shows.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

/// The channel's name (one origin: the page and its workers).
const CHANNEL: &str = "labelplan-worker-stopped";

/// In the worker: log each panic to the console (as before, with its place) and post the
/// first line of its message.
pub fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let message = match labelplan_core::error::panic_text(info.payload()) {
            "" => "a panic",
            text => text,
        };
        if let Ok(channel) = BroadcastChannel::new(CHANNEL) {
            let _ = channel.post_message(&JsValue::from_str(message.lines().next().unwrap_or(message)));
            channel.close();
        }
    }));
}

/// In the page: calls `on_stop` with each panic a worker posts, while the returned
/// listener lives (dropping it closes the channel).
pub fn listen(on_stop: impl Fn(String) + 'static) -> Option<Listener> {
    let channel = BroadcastChannel::new(CHANNEL).ok()?;
    let callback = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        on_stop(event.data().as_string().unwrap_or_default());
    });
    channel.set_onmessage(Some(callback.as_ref().unchecked_ref()));
    Some(Listener { channel, _callback: callback })
}

/// An open channel and its callback.
pub struct Listener {
    channel: BroadcastChannel,
    _callback: Closure<dyn Fn(MessageEvent)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
