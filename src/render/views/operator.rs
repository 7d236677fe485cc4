//! What operators see: the broadcast card, progress of bulk jobs, editions, the audit log and
//! content edits. Counts and ids only; every dynamic string is escaped.

use super::super::{Action, Button, Ctx, Reply, html::escape};
use crate::{
    broadcast::{Audience, AudienceCounts, JobKind, JobState, Progress},
    content::Problem,
    store::{AuditEntry, Edition, EditionKind, StoredEdit},
};
use chrono::{DateTime, Utc};

/// The most problems listed after a refused edit (the rest are counted).
const MAX_PROBLEMS: usize = 15;

pub fn refused(ctx: &Ctx) -> Reply {
    Reply::html(ctx.t("op.refused"), Vec::new())
}

/// `/operator`: every operator command (`OPERATOR_COMMANDS`) with what it does.
pub fn operator_help(ctx: &Ctx) -> Reply {
    Reply::html(ctx.t("op.usage"), Vec::new())
}

/// The card under a broadcast preview: audience choice with counts, Send and Cancel.
pub fn broadcast_card(ctx: &Ctx, draft: u64, audience: Audience, counts: &AudienceCounts) -> Reply {
    let label = |a: Audience| {
        let mark = if a == audience { "● " } else { "" };
        format!("{mark}{} ({})", ctx.t(&format!("op.audience.{}", a.code())), counts.get(a))
    };
    let choose =
        |a: Audience| Button::action(label(a), Action::BroadcastAudience { draft, audience: a });
    let buttons = vec![
        vec![choose(Audience::Users), choose(Audience::Groups)],
        vec![choose(Audience::Channels), choose(Audience::All)],
        vec![
            Button::action(ctx.t("op.btn.confirm"), Action::BroadcastSend { draft }),
            Button::action(ctx.t("op.btn.discard"), Action::BroadcastDiscard { draft }),
        ],
    ];
    let text = ctx.f(
        "op.broadcast_card",
        &[
            ("audience", &ctx.t(&format!("op.audience.{}", audience.code()))),
            ("count", &counts.get(audience).to_string()),
        ],
    );
    Reply::html(text, buttons)
}

/// The live progress message of a broadcast, withdrawal or correction.
pub fn progress(
    ctx: &Ctx,
    kind: JobKind,
    edition: u64,
    target: Option<u64>,
    state: JobState,
    p: &Progress,
    rate: f64,
) -> String {
    let title = ctx.f(
        &format!("op.progress.{}", kind.code()),
        &[("edition", &edition.to_string()), ("target", &target.unwrap_or(0).to_string())],
    );
    let n = |v: u64| v.to_string();
    // Chats that left with /stop meanwhile count as gone.
    let (sent, failed, deactivated, remaining, total) =
        (n(p.sent), n(p.failed), n(p.deactivated + p.erased), n(p.remaining()), n(p.total));
    let mut args = vec![
        ("title", title.as_str()),
        ("sent", sent.as_str()),
        ("failed", failed.as_str()),
        ("deactivated", deactivated.as_str()),
        ("remaining", remaining.as_str()),
        ("total", total.as_str()),
    ];
    match state {
        JobState::Cancelled => ctx.f("op.progress_cancelled", &args),
        JobState::Finished => ctx.f("op.progress_done", &args),
        JobState::Running if p.finished() => ctx.f("op.progress_done", &args),
        JobState::Running => {
            let eta = p.eta_secs(rate).map_or_else(|| "…".to_string(), duration);
            let rate = format!("{rate:.1}");
            args.push(("rate", &rate));
            args.push(("eta", &eta));
            ctx.f("op.progress", &args)
        }
    }
}

/// `1 h 05 min`, `3 min 20 s`, `42 s`.
fn duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

fn time(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .map_or_else(|| at.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn kind_code(kind: EditionKind) -> &'static str {
    match kind {
        EditionKind::Digest => "digest",
        EditionKind::Alert => "alert",
        EditionKind::Broadcast => "broadcast",
        EditionKind::Notice => "notice",
        EditionKind::Withdraw => "withdraw",
        EditionKind::Correct => "correct",
    }
}

/// Recent editions with how many chats each reached.
pub fn editions(ctx: &Ctx, editions: &[(u64, Edition, usize)]) -> Reply {
    if editions.is_empty() {
        return Reply::html(ctx.t("op.no_editions"), Vec::new());
    }
    let mut blocks = vec![ctx.t("op.editions")];
    blocks.extend(editions.iter().map(|(id, e, chats)| {
        ctx.f(
            "op.edition_line",
            &[
                ("edition", &id.to_string()),
                ("kind", kind_code(e.kind)),
                ("time", &time(e.created_at)),
                ("chats", &chats.to_string()),
            ],
        )
    }));
    Reply::html(blocks.join("\n"), Vec::new())
}

pub fn audit(ctx: &Ctx, entries: &[AuditEntry]) -> Reply {
    if entries.is_empty() {
        return Reply::html(ctx.t("op.audit_empty"), Vec::new());
    }
    let mut lines = vec![ctx.t("op.audit")];
    lines.extend(entries.iter().map(|e| {
        ctx.f(
            "op.audit_line",
            &[
                ("time", &time(e.at)),
                ("operator", &e.operator.to_string()),
                ("action", &escape(&e.action)),
            ],
        )
    }));
    Reply::blocks(vec![lines.join("\n")], Vec::new())
}

pub fn edits(ctx: &Ctx, edits: &[(u64, StoredEdit)]) -> Reply {
    if edits.is_empty() {
        return Reply::html(ctx.t("op.edits_empty"), Vec::new());
    }
    let mut lines = vec![ctx.t("op.edits")];
    lines.extend(edits.iter().map(|(seq, e)| {
        ctx.f(
            "op.edit_line",
            &[
                ("number", &seq.to_string()),
                ("time", &time(e.at)),
                ("edit", &escape(&e.edit.describe())),
            ],
        )
    }));
    Reply::blocks(vec![lines.join("\n")], Vec::new())
}

/// Why an edit was refused: every problem as `file:line: message`.
pub fn edit_problems(ctx: &Ctx, problems: &[Problem]) -> Reply {
    let mut listed: Vec<String> = problems
        .iter()
        .take(MAX_PROBLEMS)
        .map(|p| format!("• {}", escape(&p.to_string())))
        .collect();
    if problems.len() > MAX_PROBLEMS {
        listed.push(format!("… (+{})", problems.len() - MAX_PROBLEMS));
    }
    Reply::blocks(vec![ctx.f("op.edit_problems", &[("problems", &listed.join("\n"))])], Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::load_dir;
    use std::path::Path;

    #[test]
    fn progress_reads_as_counts_rate_and_eta() {
        let corpus =
            load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("messages")).unwrap().corpus;
        let ctx =
            Ctx { corpus: &corpus, lang: crate::content::Lang::En, bot_username: "b", seed: 0 };
        let p = Progress { total: 100, sent: 40, failed: 5, deactivated: 5, ..Progress::default() };
        let text = progress(&ctx, JobKind::Broadcast, 7, None, JobState::Running, &p, 5.0);
        assert!(text.contains("edition 7"), "{text}");
        assert!(
            text.contains("Done: 40 · failed: 5 · chat gone: 5 · remaining: 50 of 100"),
            "{text}"
        );
        assert!(text.contains("Rate: 5.0/s · about 10 s left"), "{text}");
        let done = Progress { total: 2, sent: 2, ..Progress::default() };
        let text = progress(&ctx, JobKind::Withdraw, 9, Some(7), JobState::Running, &done, 1.0);
        assert!(text.contains("Withdrawal of edition 7") && text.contains("finished"), "{text}");
        let text = progress(&ctx, JobKind::Broadcast, 7, None, JobState::Cancelled, &p, 1.0);
        assert!(text.contains("cancelled") && text.contains("not sent: 50 of 100"), "{text}");
        assert_eq!(duration(3725), "1 h 02 min");
        assert_eq!(duration(200), "3 min 20 s");
    }

    #[test]
    fn problems_are_escaped_and_bounded() {
        let corpus =
            load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("messages")).unwrap().corpus;
        let ctx =
            Ctx { corpus: &corpus, lang: crate::content::Lang::En, bot_username: "b", seed: 0 };
        let problems: Vec<Problem> = (1..=20)
            .map(|line| Problem {
                file: "statements/<x>.md".into(),
                line,
                message: "bad & <b>".into(),
            })
            .collect();
        let reply = edit_problems(&ctx, &problems);
        let html = &reply.messages[0].html;
        assert!(html.contains("statements/&lt;x&gt;.md:1: bad &amp; &lt;b&gt;"), "{html}");
        assert!(html.contains("(+5)"), "{html}");
    }

    #[test]
    fn operator_help_lists_every_operator_command_in_every_language() {
        let corpus =
            load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("messages")).unwrap().corpus;
        for lang in crate::content::Lang::ALL {
            let ctx = Ctx { corpus: &corpus, lang, bot_username: "b", seed: 0 };
            let help = &operator_help(&ctx).messages[0].html;
            let listed: Vec<&str> = help
                .lines()
                .filter_map(|line| line.strip_prefix('/'))
                .filter_map(|line| line.split([' ', '\u{a0}']).next())
                .collect();
            // `/operator` is how this is asked for; each other command has its line.
            let expected: Vec<&str> = super::super::OPERATOR_COMMANDS
                .iter()
                .copied()
                .filter(|c| *c != "operator")
                .collect();
            assert_eq!(listed, expected, "{lang:?}: {help}");
        }
    }
}
