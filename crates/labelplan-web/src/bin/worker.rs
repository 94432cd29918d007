//! The compute worker's entry point.

use yew_agent::Registrable;

fn main() {
    labelplan_web::stopped::report_panics();
    labelplan_web::worker::Engine::registrar().encoding::<labelplan_web::codec::JsCodec>().register();
}
