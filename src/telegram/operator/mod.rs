//! Operators' commands and buttons, one file for each thing an operator does: broadcasts with
//! their drafts and `/cancel` (`broadcast`), live progress of bulk jobs (`progress`),
//! withdrawing and correcting what was sent (`changes`), content edits (`content`), and the
//! audit log and editions (`audit`); `env` is what they all work with. This file registers the
//! operators' menu and dispatches their commands.
//!
//! The caller's id is checked against `TRIBUNE_ADMINS` on every command and every button
//! (callback data can be forged); anyone else gets a short refusal and nothing changes. Every
//! action that changes something is written to the audit log.

mod audit;
mod broadcast;
mod changes;
mod content;
mod env;
mod progress;

pub use broadcast::on_button;
pub use content::on_document;
pub use env::{OpEnv, Tasks};
pub use progress::resume_progress;

use super::error::HandlerResult;
use crate::{
    app::Tribune,
    broadcast::JobKind,
    delivery::{Pacer, Push},
    render::{self, html, operator as views},
};
use env::{reply, sender, text};
use std::sync::Arc;
use teloxide::{prelude::*, types::Me, utils::command::BotCommands};

/// Commands only operators may use. Not in the public menu: each operator's private chat gets
/// them in its own menu.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum OperatorCommand {
    #[command(description = "operator commands")]
    Operator(String),
    #[command(description = "send a message to subscribers")]
    Broadcast(String),
    #[command(description = "stop a running broadcast, withdrawal or correction")]
    Cancel(String),
    #[command(description = "delete an edition in every chat")]
    Withdraw(String),
    #[command(description = "edit an edition in every chat")]
    Correct(String),
    #[command(description = "recent editions")]
    Editions(String),
    #[command(description = "add a slogan")]
    AddSlogan(String),
    #[command(description = "change a prisoner's status")]
    SetPrisoner(String),
    #[command(description = "content edits made from Telegram")]
    Edits(String),
    #[command(description = "what operators did")]
    Audit(String),
}

/// Registers the operators' menu in each operator's private chat (the public menu plus theirs).
pub async fn register_menu(bot: &Bot, app: &Tribune) {
    let corpus = app.corpus();
    for &operator in app.operators() {
        let mut commands = super::commands::menu(&corpus, app.lang_for(operator, None));
        commands.extend(OperatorCommand::bot_commands());
        commands.extend(render::OPERATOR_COMMANDS.iter().map(|c| {
            let description = match *c {
                "stats" => "subscribers and deliveries, with a 30-day chart",
                _ => "outbox, last delivery, errors in the last hour",
            };
            teloxide::types::BotCommand::new(*c, description)
        }));
        let scope = teloxide::types::BotCommandScope::Chat {
            chat_id: teloxide::types::Recipient::Id(ChatId(operator)),
        };
        if let Err(e) = bot.set_my_commands(commands).scope(scope).await {
            // An operator who never opened a chat with the bot has no chat to scope to yet.
            log::info!("cannot register the operators' menu for one operator yet: {e}");
        }
    }
}

// dptree injects each dependency as its own parameter.
#[allow(clippy::too_many_arguments)]
pub async fn on_command(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    push: Push,
    tasks: Arc<Tasks>,
    me: Me,
    msg: Message,
    cmd: OperatorCommand,
) -> HandlerResult {
    let env = OpEnv { bot: &bot, app: &app, pacer: &pacer, push: &push, me: &me, tasks: &tasks };
    let (user, lang) = sender(&app, &msg);
    let corpus = app.corpus();
    let ctx = env.ctx(&corpus, lang);
    if !app.is_operator(user) {
        // In a group a bare `/cancel` or `/edits` may be meant for another bot: stay quiet.
        if !super::access::addressed_to_me(&msg, &me) {
            return Ok(());
        }
        log::info!("refused an operator command from a non-operator");
        return reply(&env, msg.chat.id, &views::refused(&ctx)).await;
    }
    if !msg.chat.is_private() {
        // Operators' work (and the audit log's ids) is not for a group's eyes; a broadcast's
        // copied message must come from a chat that cannot move or vanish under it.
        let name = msg.text().and_then(|t| t.split_whitespace().next()).unwrap_or("/operator");
        let name = html::escape(name.split('@').next().unwrap_or(name));
        return reply(&env, msg.chat.id, &text(ctx.f("private.only", &[("command", &name)]))).await;
    }
    let answer = match cmd {
        OperatorCommand::Operator(_) => views::operator_help(&ctx),
        OperatorCommand::Broadcast(args) => {
            return broadcast::broadcast(&env, &ctx, &msg, user, &args).await;
        }
        OperatorCommand::Cancel(args) => broadcast::cancel(&env, &ctx, user, &args)?,
        OperatorCommand::Withdraw(args) => {
            return changes::start_change(&env, &ctx, &msg, user, JobKind::Withdraw, &args).await;
        }
        OperatorCommand::Correct(args) => {
            return changes::start_change(&env, &ctx, &msg, user, JobKind::Correct, &args).await;
        }
        OperatorCommand::Editions(_) => audit::editions(&env, &ctx)?,
        OperatorCommand::AddSlogan(args) => content::add_slogan(&env, &ctx, user, &args)?,
        OperatorCommand::SetPrisoner(args) => content::set_prisoner(&env, &ctx, user, &args)?,
        OperatorCommand::Edits(args) => content::edits(&env, &ctx, user, &args)?,
        OperatorCommand::Audit(_) => audit::audit(&env, &ctx)?,
    };
    reply(&env, msg.chat.id, &answer).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn operator_commands_never_panic(text in "/?[a-z]{0,14}(@[a-z_]{0,12})? ?.{0,80}") {
            let _ = OperatorCommand::parse(&text, "tribune_bot");
        }
    }
}
