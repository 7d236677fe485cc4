//! The domain model: statements, excerpts, slogans, prisoners and UI strings.
//!
//! Everything here is plain data that knows nothing of Telegram or sled. Values are
//! checked when parsed (`parse.rs`), so a `Corpus` that exists is internally consistent:
//! every slogan and prisoner points at a statement that exists, every quote is word
//! for word in its statement, and every prisoner's name is spelled as that statement spells
//! it (only spaces may differ).

pub mod edits;
pub mod export;
mod lang;
mod model;
pub mod parse;
pub mod search;
mod ui;

pub use edits::ContentEdit;
pub use lang::Lang;
pub use model::{
    Corpus, Excerpt, ExcerptKey, Group, Paragraph, PartialDate, Prisoner, Slogan, Statement,
    StatementKind, Status,
};
pub use parse::{ContentError, Problem, load_dir};
pub use ui::Ui;
