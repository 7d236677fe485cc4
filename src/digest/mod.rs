//! Composing one subscriber's digest, and status-change alerts.
//!
//! A digest holds what the chat chose: the slogan of the day (the same for everyone that day),
//! the next excerpt in this chat's own rotation (no repeat until every excerpt was seen), and
//! the prisoner list or what changed in it since this chat's last digest. Pure: the caller
//! stores the new rotation state with the queued messages in one transaction.

use crate::{
    content::{Corpus, Excerpt, ExcerptKey, Prisoner, Status},
    render::{Action, Button, ButtonKind, Ctx, OutMessage, Reply, Start, html::escape},
    store::PrisonerChange,
    subscription::{ChatKind, PrisonerNews, Subscription},
};
use chrono::NaiveDate;

/// A composed digest and the subscription state to store with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub messages: Vec<OutMessage>,
    pub seen_excerpts: Vec<u32>,
    pub prisoner_news_seen: u64,
}

/// What a digest is composed from, besides the subscription.
pub struct Inputs<'a> {
    pub corpus: &'a Corpus,
    /// Prisoner-status changes after the chat's `prisoner_news_seen`, oldest first.
    pub changes: &'a [(u64, PrisonerChange)],
    /// The newest prisoner-log position.
    pub news_head: u64,
    /// The date in the subscriber's zone.
    pub today: NaiveDate,
    pub bot_username: &'a str,
}

/// The digest for one subscriber; `None` when it chose nothing that exists.
pub fn compose(sub: &Subscription, inputs: &Inputs) -> Option<Composed> {
    let ctx =
        Ctx { corpus: inputs.corpus, lang: sub.lang, bot_username: inputs.bot_username, seed: 0 };
    let mut blocks =
        vec![ctx.f("digest.title", &[("date", &ctx.date(&partial(inputs.today), false))])];
    let mut buttons = Vec::new();
    let mut seen = sub.seen_excerpts.clone();
    if sub.contents.slogan
        && let Some(slogan) = inputs.corpus.slogan_of_the_day(inputs.today)
    {
        let cite = inputs.corpus.statement(&slogan.statement).map(|s| ctx.citation(s, slogan.lang));
        blocks.push(format!("✊ <b>{}</b>\n{}", escape(&slogan.text), cite.unwrap_or_default()));
    }
    if sub.contents.excerpt
        && let Some((excerpt, next_seen)) = next_excerpt(inputs.corpus, sub)
    {
        blocks.push(format!(
            "<blockquote>{}</blockquote>\n{}",
            escape(excerpt.text),
            ctx.citation(excerpt.statement, excerpt.lang)
        ));
        buttons.push(open_button(
            &ctx,
            sub.kind,
            ctx.t("btn.full"),
            Action::ReadAt(excerpt.key()),
            Start::Excerpt(excerpt.key()),
        ));
        seen = next_seen;
    }
    match sub.contents.prisoners {
        PrisonerNews::Off => {}
        PrisonerNews::List => blocks.push(prisoner_list(&ctx, inputs.today)),
        // The first digest has nothing to compare with: it brings the list.
        PrisonerNews::Changes if sub.last_digest.is_none() => {
            blocks.push(prisoner_list(&ctx, inputs.today))
        }
        PrisonerNews::Changes => blocks.push(changes_block(&ctx, inputs.changes)),
    }
    if sub.contents.prisoners != PrisonerNews::Off {
        buttons.push(open_button(
            &ctx,
            sub.kind,
            ctx.t("btn.prisoners"),
            Action::PrisonerList,
            Start::Prisoners(None),
        ));
    }
    if blocks.len() == 1 {
        return None;
    }
    let reply = Reply::blocks(blocks, vec![buttons]);
    Some(Composed {
        messages: reply.messages,
        seen_excerpts: seen,
        prisoner_news_seen: inputs.news_head,
    })
}

/// An alert for one status change, in the subscriber's language.
pub fn alert(
    corpus: &Corpus,
    sub: &Subscription,
    change: &PrisonerChange,
    bot_username: &str,
) -> Option<OutMessage> {
    let ctx = Ctx { corpus, lang: sub.lang, bot_username, seed: 0 };
    let prisoner = corpus.prisoner(&change.prisoner)?;
    let text = ctx.f(
        "alert.status",
        &[
            ("name", &escape(&name(&ctx, prisoner))),
            ("status", &escape(&status_word(&ctx, change.to))),
        ],
    );
    let button = open_button(
        &ctx,
        sub.kind,
        ctx.t("btn.card"),
        Action::Prisoner(prisoner.id.clone()),
        Start::Prisoner(prisoner.id.clone()),
    );
    Reply::html(text, vec![vec![button]]).messages.into_iter().next()
}

/// In a private chat a button answers there; in groups and channels it opens a private chat
/// with the bot instead, so pressing it never posts into the group or channel.
fn open_button(ctx: &Ctx, kind: ChatKind, label: String, action: Action, start: Start) -> Button {
    match kind {
        ChatKind::Private => Button::action(label, action),
        _ => Button { label, kind: ButtonKind::Url(ctx.deep_link(&start)) },
    }
}

/// The next excerpt in this chat's rotation and the rotation state after it.
fn next_excerpt<'a>(corpus: &'a Corpus, sub: &Subscription) -> Option<(Excerpt<'a>, Vec<u32>)> {
    let mut pool = corpus.excerpts_for(sub.lang);
    // Each chat gets its own order, stable across digests.
    pool.sort_by_key(|e| key_hash(&e.key(), sub.chat_id as u64));
    let unseen = pool.iter().find(|e| !sub.seen_excerpts.contains(&key_hash(&e.key(), 0)));
    let (excerpt, mut seen) = match unseen {
        Some(e) => (*e, sub.seen_excerpts.clone()),
        // Everything was seen: a new round starts.
        None => (*pool.first()?, Vec::new()),
    };
    seen.push(key_hash(&excerpt.key(), 0));
    Some((excerpt, seen))
}

/// FNV-1a over an excerpt key, salted: small, stable across builds and platforms.
pub fn key_hash(key: &ExcerptKey, salt: u64) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    let text = format!("{}/{}/{}", key.statement, key.lang, key.paragraph);
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 32)) as u32
}

fn prisoner_list(ctx: &Ctx, today: NaiveDate) -> String {
    let prisoners = &ctx.corpus.prisoners;
    let held = prisoners
        .iter()
        .filter(|p| matches!(p.status, Status::Imprisoned | Status::Sentenced))
        .count();
    let mut block = ctx.f("digest.prisoners", &[("count", &held.to_string())]);
    for p in prisoners {
        block.push_str(&format!(
            "\n• <b>{}</b> — {}",
            escape(&name(ctx, p)),
            escape(&detention(ctx, p, today))
        ));
    }
    block
}

fn changes_block(ctx: &Ctx, changes: &[(u64, PrisonerChange)]) -> String {
    if changes.is_empty() {
        let held = ctx
            .corpus
            .prisoners
            .iter()
            .filter(|p| matches!(p.status, Status::Imprisoned | Status::Sentenced))
            .count();
        return ctx.f("digest.no_changes", &[("count", &held.to_string())]);
    }
    let mut block = ctx.t("digest.changes");
    for (_, change) in changes {
        let Some(p) = ctx.corpus.prisoner(&change.prisoner) else { continue };
        block.push_str(&format!(
            "\n• <b>{}</b>: {}",
            escape(&name(ctx, p)),
            escape(&status_word(ctx, change.to))
        ));
    }
    block
}

/// "day 731 in detention", or "in prison since November 2023" when the day is not known.
fn detention(ctx: &Ctx, p: &Prisoner, today: NaiveDate) -> String {
    let status = status_word(ctx, p.status);
    match p.since {
        Some(since) if p.status == Status::Imprisoned || p.status == Status::Sentenced => {
            match (since.month, since.day) {
                (Some(m), Some(d)) => {
                    match NaiveDate::from_ymd_opt(i32::from(since.year), u32::from(m), u32::from(d))
                    {
                        Some(arrested) if arrested <= today => {
                            let days = (today - arrested).num_days() + 1;
                            ctx.f("digest.day_n", &[("n", &days.to_string())])
                        }
                        _ => status,
                    }
                }
                _ => format!(
                    "{status}, {}",
                    ctx.f("prisoner.since", &[("date", &ctx.date(&since, false))])
                ),
            }
        }
        _ => status,
    }
}

fn status_word(ctx: &Ctx, status: Status) -> String {
    ctx.t(&format!("status.{}", status.code()))
}

fn name(ctx: &Ctx, p: &Prisoner) -> String {
    p.name.clone().unwrap_or_else(|| ctx.f("prisoner.unnamed", &[("affiliation", &p.affiliation)]))
}

fn partial(date: NaiveDate) -> crate::content::PartialDate {
    use chrono::Datelike;
    crate::content::PartialDate {
        year: date.year() as u16,
        month: Some(date.month() as u8),
        day: Some(date.day() as u8),
    }
}

#[cfg(test)]
mod tests;
