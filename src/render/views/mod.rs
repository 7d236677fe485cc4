//! One function per thing a reader can ask for. Each takes a [`Ctx`] and the command's
//! arguments as typed, and returns a [`Reply`]; none fails: bad input gets a helpful reply.

mod inline;
mod menu;
mod observe;
pub mod operator;
mod prisoners;
mod reading;
mod settings;

pub use inline::{
    FEATURED_PRISONERS, INLINE_PAGE, InlinePage, InlineResult, inline, share_button, shared_item,
};
pub use menu::{
    COMMANDS, OPERATOR_COMMANDS, about, edited_message, help, lang, no_arguments, non_text,
    stale_button, start, too_long, unknown_command,
};
pub use observe::{health, stats, stats_caption};
pub use prisoners::{card, prisoner, prisoners, prisoners_in};
pub use reading::{
    another_excerpt, another_slogan, excerpt, pages, read, read_at, read_page, search, slogan,
    statements,
};
pub use settings::{settings_card, when_text};

use super::{Action, Button, Ctx, Reply};

/// Longest text accepted as search words or a name; Telegram allows 4096, nobody searches that.
pub const MAX_QUERY_CHARS: usize = 200;

/// Handles a pressed button. `None` when the button names something that no longer exists.
pub fn on_action(ctx: &Ctx, action: &Action) -> Option<Reply> {
    Some(match action {
        Action::Excerpt => another_excerpt(ctx, None, None)?,
        Action::AnotherExcerpt { after, same_statement } => {
            ctx.corpus.excerpt(after)?;
            let statement = same_statement.then_some(after.statement.as_str());
            another_excerpt(ctx, statement, Some(after))?
        }
        Action::Read { statement, lang, page } => {
            let statement = ctx.corpus.statement(statement)?;
            if !statement.texts.contains_key(lang) {
                return None;
            }
            read_page(ctx, statement, *lang, *page)
        }
        Action::Open { statement, lang } => {
            let statement = ctx.corpus.statement(statement)?;
            if !statement.texts.contains_key(lang) {
                return None;
            }
            read_page(ctx, statement, *lang, 1)
        }
        Action::ReadAt(key) => read_at(ctx, key)?,
        Action::AnotherSlogan { after } => another_slogan(ctx, after.as_deref()),
        Action::PrisonerList => prisoners_in(ctx, None),
        Action::Prisoners(group) => prisoners_in(ctx, *group),
        Action::Prisoner(id) => card(ctx, ctx.corpus.prisoner(id)?),
        Action::Statements => statements(ctx),
        Action::SetLang(lang) => menu::set_lang(ctx, *lang),
        Action::Nothing => Reply::default(),
        // Settings and operators' buttons need the store and permissions: the adapter
        // handles them.
        Action::Settings { .. }
        | Action::BroadcastAudience { .. }
        | Action::BroadcastSend { .. }
        | Action::BroadcastDiscard { .. } => return None,
    })
}

/// `/cmd` or `/cmd@bot` as the reader typed it, escaped, for messages that quote it.
fn quoted(text: &str) -> String {
    let shown: String = text.chars().take(64).collect();
    super::html::escape(&shown)
}

fn nav(label: String, action: Action) -> Button {
    Button::action(label, action)
}
