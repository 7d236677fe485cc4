//! A chat in a terminal (`tribune demo` is one): a person types into a terminal, the emulator
//! turns each line into an update, and the bot's replies are printed as a
//! Telegram user would see them, buttons numbered so a digit presses one.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use super::{
    error::WaitError,
    handles::User,
    sent::{Activity, BotMessage},
    world::BOT_USERNAME,
};

const BANNER: &str =
    "Type a command such as /start or /excerpt; a number presses that button; /quit leaves.\n";

/// How long to wait for the bot (tests shorten these).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// How long to wait for a first reply.
    pub reply_timeout: Duration,
    /// After a reply, how long a silence ends the bot's turn.
    pub settle: Duration,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace { reply_timeout: Duration::from_secs(5), settle: Duration::from_millis(300) }
    }
}

/// Runs the terminal chat as `user` until EOF or `/quit`.
pub async fn run_terminal<R, W>(user: User, input: R, output: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    run_with_pace(user, input, output, Pace::default()).await
}

pub(crate) async fn run_with_pace<R, W>(
    user: User,
    input: R,
    mut output: W,
    pace: Pace,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    output.write_all(BANNER.as_bytes()).await?;
    let mut lines = input.lines();
    loop {
        output.write_all(b"> ").await?;
        output.flush().await?;
        let Some(line) = lines.next_line().await? else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" {
            break;
        }
        if let Ok(n) = line.parse::<usize>() {
            match press(&user, n) {
                Ok(()) => {}
                Err(note) => {
                    output.write_all(format!("{note}\n").as_bytes()).await?;
                    continue;
                }
            }
        } else {
            user.send_text(line);
        }
        show_replies(&user, &mut output, pace).await?;
    }
    output.write_all(b"\n").await?;
    output.flush().await
}

/// Presses button `n` (1-based, row by row) of the newest message with buttons.
fn press(user: &User, n: usize) -> Result<(), String> {
    let Some(message) = user.messages().into_iter().rev().find(|m| !m.buttons.is_empty()) else {
        return Err("There are no buttons to press.".to_owned());
    };
    let Some(button) = message.buttons.iter().flatten().nth(n.wrapping_sub(1)) else {
        return Err(format!("There is no button {n}."));
    };
    match (&button.callback_data, &button.url) {
        (Some(data), _) => {
            user.press(message.message_id, data);
            Ok(())
        }
        (None, Some(url)) => Err(format!("(that button opens {url})")),
        (None, None) => match &button.switch_inline_query {
            Some(query) => Err(format!(
                "(that button shares: in the chat you pick, it types @{BOT_USERNAME} {query})"
            )),
            None => Err("(that button does nothing here)".to_owned()),
        },
    }
}

/// Prints the bot's turn: everything until a short silence after a reply.
async fn show_replies<W: AsyncWrite + Unpin>(
    user: &User,
    output: &mut W,
    pace: Pace,
) -> std::io::Result<()> {
    let mut first = true;
    loop {
        let timeout = if first { pace.reply_timeout } else { pace.settle };
        match user.wait_for_activity(timeout).await {
            Ok(activity) => output.write_all(render(&activity).as_bytes()).await?,
            Err(WaitError::Timeout { .. }) if first => {
                output.write_all(b"(no reply from the bot)\n").await?;
                break;
            }
            Err(_) => break,
        }
        first = false;
    }
    output.flush().await
}

/// One activity as text: notices, then messages with numbered buttons.
fn render(activity: &Activity) -> String {
    let mut out = String::new();
    for answer in &activity.answers {
        if let Some(text) = &answer.text {
            let kind = if answer.show_alert { "alert" } else { "notice" };
            out.push_str(&format!("({kind}) {text}\n"));
        }
    }
    for message in &activity.messages {
        out.push_str(&render_message(message));
    }
    out
}

fn render_message(message: &BotMessage) -> String {
    let mut out = String::new();
    if message.edited {
        out.push_str("(edited) ");
    }
    if let Some(photo) = &message.photo {
        // A terminal cannot show the picture; say what arrived.
        out.push_str(&format!("(photo, {} bytes) ", photo.len()));
    }
    out.push_str(&message.plain_text());
    out.push('\n');
    if !message.buttons.is_empty() {
        let labels: Vec<String> = message
            .buttons
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, b)| format!("[{}] {}", i + 1, b.text))
            .collect();
        out.push_str(&labels.join("  "));
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use teloxide::{
        prelude::*,
        types::{InlineKeyboardButton, InlineKeyboardMarkup, ParseMode, UpdateKind},
    };

    use super::*;
    use crate::Emulator;

    /// A tiny bot: /start greets with three buttons, a press edits the greeting
    /// and answers, any other text is echoed.
    async fn fake_bot(bot: Bot) {
        let keyboard = InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback("Another", "another"),
            InlineKeyboardButton::callback("Full statement", "full"),
            InlineKeyboardButton::switch_inline_query("Share", "s_x"),
        ]]);
        let mut offset = 0;
        while let Ok(updates) = bot.get_updates().offset(offset).timeout(10).await {
            for update in updates {
                offset = update.id.0 as i32 + 1;
                match update.kind {
                    UpdateKind::Message(m) if m.text() == Some("/start") => {
                        let send = bot.send_message(m.chat.id, "<b>Welcome</b> &amp; hello");
                        let _ =
                            send.parse_mode(ParseMode::Html).reply_markup(keyboard.clone()).await;
                    }
                    UpdateKind::Message(m) => {
                        let _ = bot
                            .send_message(m.chat.id, format!("echo: {}", m.text().unwrap_or("")))
                            .await;
                    }
                    UpdateKind::CallbackQuery(q) => {
                        let m = q.regular_message().unwrap();
                        let edit = bot.edit_message_text(m.chat.id, m.id, "Another excerpt");
                        let _ = edit.reply_markup(keyboard.clone()).await;
                        let _ = bot.answer_callback_query(q.id.clone()).text("Loading").await;
                    }
                    _ => {}
                }
            }
        }
    }

    #[tokio::test]
    async fn a_terminal_session() {
        let emulator = Emulator::start().await.unwrap();
        let bot = Bot::new(emulator.token()).set_api_url(emulator.api_url().parse().unwrap());
        let bot_task = tokio::spawn(fake_bot(bot));
        let user = emulator.user(1001, "Reader", Some("en"));
        let input: &[u8] = b"/start\n1\n3\nhello\n9\n/quit\nnot reached\n";
        let mut output = Vec::new();
        let pace =
            Pace { reply_timeout: Duration::from_secs(5), settle: Duration::from_millis(200) };
        run_with_pace(user, input, &mut output, pace).await.unwrap();
        let output = String::from_utf8(output).unwrap();
        assert!(output.starts_with(BANNER), "{output}");
        for expected in [
            "Welcome & hello\n[1] Another  [2] Full statement  [3] Share\n",
            "(edited) Another excerpt\n[1] Another  [2] Full statement  [3] Share\n",
            "(notice) Loading\n",
            "(that button shares: in the chat you pick, it types @tribune_test_bot s_x)\n",
            "echo: hello\n",
            "There is no button 9.\n",
        ] {
            assert!(output.contains(expected), "missing {expected:?} in:\n{output}");
        }
        assert!(!output.contains("not reached"));
        emulator.shutdown().await;
        bot_task.abort();
    }

    #[tokio::test]
    async fn eof_ends_the_session_and_silence_is_reported() {
        let emulator = Emulator::start().await.unwrap();
        let user = emulator.user(1001, "Reader", None);
        let mut output = Vec::new();
        let pace =
            Pace { reply_timeout: Duration::from_millis(50), settle: Duration::from_millis(50) };
        run_with_pace(user, &b"/start\n3"[..], &mut output, pace).await.unwrap();
        let output = String::from_utf8(output).unwrap();
        assert!(output.contains("(no reply from the bot)\n"), "{output}");
        assert!(output.contains("There are no buttons to press.\n"), "{output}");
        emulator.shutdown().await;
    }

    #[test]
    fn a_photo_is_announced_with_its_caption() {
        let message = BotMessage {
            message_id: 1,
            chat_id: 1,
            text: "<b>Chart</b>".into(),
            parse_mode: Some("HTML".into()),
            buttons: Vec::new(),
            edited: false,
            edits: 0,
            disable_link_preview: false,
            photo: Some(vec![0; 42]),
            document: None,
        };
        assert_eq!(render_message(&message), "(photo, 42 bytes) Chart\n\n");
    }
}
