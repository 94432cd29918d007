//! The page's entry point: renders the app on the main thread.

fn main() {
    console_error_panic_hook::set_once();
    yew::Renderer::<labelplan_web::ui::App>::new().render();
}
