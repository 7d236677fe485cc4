//! Withdrawing and correcting an edition everywhere it was sent: a job of deletions or edits,
//! queued in the outbox like any bulk send, stopping the edition's broadcast first if it is
//! still going out.

use super::{
    super::{
        caller::{Refusal, unavailable},
        tribune::Tribune,
    },
    Operator,
};
use crate::{
    broadcast::{Job, JobKind, JobState},
    message::{Edition, EditionKind, Op, OutMessage, OutboxItem},
    render::html,
    subscription::ChatKind,
};
use std::time::Duration;

/// How long after sending Telegram lets a bot delete its message.
pub const DELETE_WITHIN: Duration = Duration::from_secs(48 * 3600);

/// What `/withdraw` or `/correct` came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// No edition was named (or, for a correction, no new text given).
    Empty,
    /// The argument names no edition.
    NoEdition(String),
    /// The edition is itself a withdrawal or a correction.
    ChangeOfChange(u64),
    /// Older than Telegram lets a bot delete (by the app's clock).
    TooOld(u64),
    /// Older than delivery records are kept (`TRIBUNE_KEEP_DELIVERIES_DAYS`, by the app's
    /// clock): where it went is no longer known, so it can be neither withdrawn nor corrected.
    Expired { edition: u64, days: u64 },
    /// A copied message without a caption: it can only be withdrawn.
    NotCorrectable(u64),
    /// The new text does not fit a message (or a caption).
    TooLong,
    /// The edition reached no chat.
    NothingSent(u64),
    /// Queued as this edition.
    Started { edition: u64 },
}

impl Tribune {
    /// `/withdraw <edition>` or `/correct <edition> <text>`. `args` are the command's
    /// arguments; `new_html` the correction's text as Telegram HTML (the message replied to,
    /// or what follows the edition), which the adapter reads from Telegram's formatting.
    pub async fn change_edition(
        &self,
        operator: &Operator,
        kind: JobKind,
        args: &str,
        new_html: Option<String>,
    ) -> Result<ChangeOutcome, Refusal> {
        let store = &self.store;
        let first = args.split_whitespace().next().unwrap_or("");
        let found = first.parse::<u64>().ok().and_then(|e| Some((e, store.edition(e).ok()??)));
        let Some((target, Edition { kind: target_kind, created_at })) = found else {
            return Ok(if first.is_empty() {
                ChangeOutcome::Empty
            } else {
                ChangeOutcome::NoEdition(first.to_string())
            });
        };
        // A withdrawal or correction is changed by acting on the edition it changed.
        if matches!(target_kind, EditionKind::Withdraw | EditionKind::Correct) {
            return Ok(ChangeOutcome::ChangeOfChange(target));
        }
        let age = self.clock.unix().saturating_sub(created_at);
        let kept = self.retention.deliveries.as_secs();
        if age > kept as i64 {
            return Ok(ChangeOutcome::Expired { edition: target, days: kept / 86_400 });
        }
        if kind == JobKind::Withdraw && age > DELETE_WITHIN.as_secs() as i64 {
            return Ok(ChangeOutcome::TooOld(target));
        }
        let target_job = store.job(target).map_err(unavailable)?;
        if kind == JobKind::Correct && target_job.as_ref().is_some_and(|j| j.fixed) {
            return Ok(ChangeOutcome::NotCorrectable(target));
        }
        // A copied message (photo, document…) is corrected by its caption.
        let media = target_job.is_some_and(|j| j.media);
        let new_html = match kind {
            JobKind::Correct => {
                let Some(html) = new_html else { return Ok(ChangeOutcome::Empty) };
                let limit = if media { html::CAPTION_LIMIT } else { html::MESSAGE_LIMIT };
                if html::visible_len(&html) > limit {
                    return Ok(ChangeOutcome::TooLong);
                }
                Some(html)
            }
            _ => None,
        };

        // A broadcast still going out is stopped first, or it would keep sending what is being
        // withdrawn or corrected; what was in flight then lands before the chats are listed.
        let stopped = match store.job(target).map_err(unavailable)? {
            Some(job) if job.state == JobState::Running => {
                !store.job_progress(target, &job).map_err(unavailable)?.finished()
            }
            _ => false,
        };
        if stopped {
            store.cancel_job(target).map_err(unavailable)?;
            self.settle(target).await?;
        }
        let reached: Vec<_> = store
            .deliveries(target)
            .map_err(unavailable)?
            .into_iter()
            .filter(|(_, record)| !record.message_ids.is_empty())
            .collect();
        if reached.is_empty() {
            return Ok(ChangeOutcome::NothingSent(target));
        }
        let kinds: Vec<ChatKind> = reached
            .iter()
            .map(|(chat, _)| {
                store.subscription(*chat).ok().flatten().map_or(ChatKind::Private, |s| s.kind)
            })
            .collect();
        let job = Job {
            target: Some(target),
            media,
            ..Job::running(kind, operator.id(), self.clock.unix())
        };
        let edition_kind =
            if kind == JobKind::Withdraw { EditionKind::Withdraw } else { EditionKind::Correct };
        let (edition, queued) = store
            .start_job(edition_kind, &job, |edition| {
                let mut items = Vec::new();
                for ((chat_id, record), kind) in reached.iter().zip(&kinds) {
                    for (i, &message_id) in record.message_ids.iter().enumerate() {
                        let op = match &new_html {
                            // The first message carries the correction; further parts go.
                            Some(_) if i == 0 => Op::Edit { message_id, caption: media },
                            _ => Op::Delete { message_id },
                        };
                        let message = OutMessage {
                            html: new_html.clone().filter(|_| i == 0).unwrap_or_default(),
                            buttons: Vec::new(),
                        };
                        items.push(OutboxItem {
                            edition,
                            chat_id: *chat_id,
                            kind: *kind,
                            message,
                            attempts: 0,
                            op,
                        });
                    }
                }
                items
            })
            .map_err(unavailable)?;
        let chats = reached.len();
        self.hand_over(queued);
        let stopping = if stopped { ", stopping it first" } else { "" };
        let action = format!(
            "{} edition {target} in {chats} chats (edition {edition}){stopping}",
            kind.code()
        );
        self.audit(operator, action)?;
        Ok(ChangeOutcome::Started { edition })
    }

    /// Waits until the delivery records of `edition` stop growing (sends in flight when it was
    /// cancelled finish within the request timeout), at most 15 seconds.
    async fn settle(&self, edition: u64) -> Result<(), Refusal> {
        let count = || self.store.deliveries(edition).map(|d| d.len()).map_err(unavailable);
        let mut seen = count()?;
        for _ in 0..15 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = count()?;
            if now == seen {
                break;
            }
            seen = now;
        }
        Ok(())
    }
}
