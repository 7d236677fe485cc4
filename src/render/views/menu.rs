use super::{quoted, reading};
use crate::{
    content::Lang,
    render::{Action, Button, Ctx, Effect, Reply, Start, html::escape},
};

/// Every command, in the order of the menu and `/help`. Descriptions are `cmd.<name>` UI strings.
pub const COMMANDS: [&str; 16] = [
    "start",
    "help",
    "excerpt",
    "slogan",
    "prisoners",
    "prisoner",
    "statements",
    "read",
    "search",
    "subscribe",
    "settings",
    "unsubscribe",
    "stop",
    "channels",
    "lang",
    "about",
];

/// Commands only operators (`TRIBUNE_ADMINS`) may use, in the order of their menu: one set
/// behind one check (`app::Tribune::operator`), never in the public menu or `/help`, each
/// listed by `/operator`.
pub const OPERATOR_COMMANDS: [&str; 12] = [
    "operator",
    "broadcast",
    "cancel",
    "withdraw",
    "correct",
    "editions",
    "addslogan",
    "setprisoner",
    "edits",
    "audit",
    "stats",
    "health",
];

/// `/start [payload]`: the welcome menu, or what a deep link points at.
pub fn start(ctx: &Ctx, payload: &str) -> Reply {
    let found = match Start::decode(payload) {
        Some(Start::Menu) => return menu(ctx, None),
        None => None,
        Some(Start::Prisoners(group)) => Some(super::prisoners_in(ctx, group)),
        Some(Start::Statements) => Some(super::statements(ctx)),
        Some(Start::Slogan(None)) => Some(super::slogan(ctx, "")),
        Some(Start::Slogan(Some(id))) => {
            ctx.corpus.slogan(&id).map(|s| reading::slogan_reply(ctx, s))
        }
        Some(Start::Excerpt(key)) => {
            ctx.corpus.excerpt(&key).map(|e| reading::excerpt_reply(ctx, e, None))
        }
        Some(Start::Prisoner(id)) => ctx.corpus.prisoner(&id).map(|p| super::card(ctx, p)),
        Some(Start::Read(id)) => {
            ctx.corpus.statement(&id).map(|s| super::read_page(ctx, s, s.text_lang(ctx.lang), 1))
        }
    };
    found.unwrap_or_else(|| menu(ctx, Some(ctx.t("start.bad_link"))))
}

fn menu(ctx: &Ctx, notice: Option<String>) -> Reply {
    let mut text = notice.map(|n| format!("{n}\n\n")).unwrap_or_default();
    text.push_str(&ctx.t("welcome"));
    let buttons = vec![
        vec![
            Button::action(ctx.t("btn.excerpt"), Action::Excerpt),
            Button::action(ctx.t("btn.slogan"), Action::AnotherSlogan { after: None }),
        ],
        vec![
            Button::action(ctx.t("btn.prisoners"), Action::PrisonerList),
            Button::action(ctx.t("btn.statements"), Action::Statements),
        ],
    ];
    Reply::html(text, buttons)
}

/// `/help`: every command with its description.
pub fn help(ctx: &Ctx) -> Reply {
    let lines: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("/{c} — {}", escape(&ctx.t(&format!("cmd.{c}")))))
        .collect();
    Reply::html(ctx.f("help", &[("commands", &lines.join("\n"))]), Vec::new())
}

/// `/about`: what Tribune is, whose words it carries, and what it keeps about readers.
pub fn about(ctx: &Ctx) -> Reply {
    let sources: Vec<String> = ctx
        .corpus
        .statements
        .iter()
        .map(|s| {
            let lang = s.text_lang(ctx.lang);
            format!("• {}", ctx.citation(s, lang).trim_start_matches("— "))
        })
        .collect();
    Reply::html(ctx.f("about", &[("sources", &sources.join("\n"))]), Vec::new())
}

/// `/lang [code]`: shows the choice, or sets the language and answers in it.
pub fn lang(ctx: &Ctx, args: &str) -> Reply {
    if args.trim().is_empty() {
        let buttons = Lang::ALL
            .iter()
            .map(|l| Button::action(l.native_name(), Action::SetLang(*l)))
            .collect();
        return Reply::html(ctx.t("lang.choose"), vec![buttons]);
    }
    match Lang::parse(args) {
        Some(lang) => set_lang(ctx, lang),
        None => {
            let query = quoted(args.trim());
            Reply::html(ctx.f("lang.unknown", &[("query", &query)]), Vec::new())
        }
    }
}

pub(super) fn set_lang(ctx: &Ctx, lang: Lang) -> Reply {
    let in_new = Ctx { corpus: ctx.corpus, lang, bot_username: ctx.bot_username, seed: ctx.seed };
    let mut reply = Reply::html(in_new.t("lang.set"), Vec::new());
    reply.effect = Some(Effect::SetLang(lang));
    reply
}

/// A command Tribune does not have.
pub fn unknown_command(ctx: &Ctx, typed: &str) -> Reply {
    let command = typed.split_whitespace().next().unwrap_or(typed);
    Reply::html(ctx.f("unknown_command", &[("command", &quoted(command))]), Vec::new())
}

/// A command that takes no arguments was given some.
pub fn no_arguments(ctx: &Ctx, command: &str) -> Reply {
    Reply::html(ctx.f("no_arguments", &[("command", &quoted(command))]), Vec::new())
}

/// A sticker, photo or other message without text.
pub fn non_text(ctx: &Ctx) -> Reply {
    Reply::html(ctx.t("non_text"), Vec::new())
}

/// An edited message: answered rather than ignored, so the reader knows to resend.
pub fn edited_message(ctx: &Ctx) -> Reply {
    Reply::html(ctx.t("edited"), Vec::new())
}

/// A message longer than anything Tribune reads.
pub fn too_long(ctx: &Ctx) -> Reply {
    let max = super::MAX_QUERY_CHARS.to_string();
    Reply::html(ctx.f("too_long", &[("max", &max)]), Vec::new())
}

/// A button whose data is forged or names something that is gone.
pub fn stale_button(ctx: &Ctx) -> Reply {
    Reply::default().with_notice(ctx.t("stale_button"))
}
