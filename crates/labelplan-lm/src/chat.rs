//! A conversation as the model was trained to read it: the GGUF's own chat template
//! (`tokenizer.chat_template`, Jinja), rendered by minijinja.

use minijinja::{context, Environment};
use serde::Serialize;

use crate::gguf::{Gguf, GgufError, Value};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// "system", "user" or "assistant".
    pub role: String,
    /// What was said.
    pub content: String,
}

impl Message {
    /// A turn by `role`.
    pub fn new(role: &str, content: &str) -> Message {
        Message { role: role.to_owned(), content: content.to_owned() }
    }
}

/// The template of a GGUF.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
}

impl ChatTemplate {
    /// The GGUF's template, or an error when it has none.
    pub fn from_gguf(gguf: &Gguf) -> Result<ChatTemplate, GgufError> {
        let source =
            gguf.get("tokenizer.chat_template").and_then(Value::as_str).ok_or_else(|| GgufError {
                file: gguf.file.clone(),
                at: 0,
                message: "no tokenizer.chat_template: this model has no chat format".into(),
            })?;
        Ok(ChatTemplate { source: source.to_owned() })
    }

    /// The text of `messages`, ending with the assistant's turn opened when
    /// `add_generation_prompt` is set.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String, String> {
        let mut env = Environment::new();
        env.add_template("chat", &self.source)
            .map_err(|e| format!("the chat template does not parse: {e}"))?;
        let template = env.get_template("chat").map_err(|e| e.to_string())?;
        template
            .render(context! { messages => messages, add_generation_prompt => add_generation_prompt })
            .map_err(|e| format!("the chat template fails: {e}"))
    }
}
