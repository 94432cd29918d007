//! The compute worker's entry point.

use yew_agent::Registrable;

fn main() {
    console_error_panic_hook::set_once();
    labelplan_web::worker::Engine::registrar().encoding::<labelplan_web::codec::JsCodec>().register();
}
