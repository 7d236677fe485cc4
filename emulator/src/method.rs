//! The Bot API methods the emulator implements, by name, and what each does in a chat
//! (posts, edits, or only looks), which decides the rules and faults it meets.

/// The Bot API methods the emulator implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    GetMe,
    GetUpdates,
    GetWebhookInfo,
    SetWebhook,
    DeleteWebhook,
    SetMyCommands,
    GetMyCommands,
    DeleteMyCommands,
    SendMessage,
    SendPhoto,
    SendChatAction,
    EditMessageText,
    EditMessageReplyMarkup,
    DeleteMessage,
    CopyMessage,
    EditMessageCaption,
    GetFile,
    AnswerCallbackQuery,
    GetChat,
    GetChatMember,
    GetChatAdministrators,
    AnswerInlineQuery,
}

impl Method {
    pub(crate) const ALL: [Method; 22] = [
        Method::GetMe,
        Method::GetUpdates,
        Method::GetWebhookInfo,
        Method::SetWebhook,
        Method::DeleteWebhook,
        Method::SetMyCommands,
        Method::GetMyCommands,
        Method::DeleteMyCommands,
        Method::SendMessage,
        Method::SendPhoto,
        Method::SendChatAction,
        Method::EditMessageText,
        Method::EditMessageReplyMarkup,
        Method::DeleteMessage,
        Method::CopyMessage,
        Method::EditMessageCaption,
        Method::GetFile,
        Method::AnswerCallbackQuery,
        Method::GetChat,
        Method::GetChatMember,
        Method::GetChatAdministrators,
        Method::AnswerInlineQuery,
    ];

    /// The canonical name, as the Bot API documents it.
    pub fn name(self) -> &'static str {
        match self {
            Method::GetMe => "getMe",
            Method::GetUpdates => "getUpdates",
            Method::GetWebhookInfo => "getWebhookInfo",
            Method::SetWebhook => "setWebhook",
            Method::DeleteWebhook => "deleteWebhook",
            Method::SetMyCommands => "setMyCommands",
            Method::GetMyCommands => "getMyCommands",
            Method::DeleteMyCommands => "deleteMyCommands",
            Method::SendMessage => "sendMessage",
            Method::SendPhoto => "sendPhoto",
            Method::SendChatAction => "sendChatAction",
            Method::EditMessageText => "editMessageText",
            Method::EditMessageReplyMarkup => "editMessageReplyMarkup",
            Method::DeleteMessage => "deleteMessage",
            Method::CopyMessage => "copyMessage",
            Method::EditMessageCaption => "editMessageCaption",
            Method::GetFile => "getFile",
            Method::AnswerCallbackQuery => "answerCallbackQuery",
            Method::GetChat => "getChat",
            Method::GetChatMember => "getChatMember",
            Method::GetChatAdministrators => "getChatAdministrators",
            Method::AnswerInlineQuery => "answerInlineQuery",
        }
    }

    /// Method names are case-insensitive in the Bot API.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Whether the method posts into a chat (and so meets blocks).
    pub fn sends_message(self) -> bool {
        matches!(
            self,
            Method::SendMessage | Method::SendPhoto | Method::SendChatAction | Method::CopyMessage
        )
    }

    /// Whether the method posts a new message (and so counts for the flood
    /// limits). copyMessage and the like belong here once the emulator has
    /// them.
    pub fn sends_new_message(self) -> bool {
        matches!(self, Method::SendMessage | Method::SendPhoto | Method::CopyMessage)
    }

    /// Whether the method changes a message already sent.
    pub fn edits_message(self) -> bool {
        matches!(
            self,
            Method::EditMessageText | Method::EditMessageReplyMarkup | Method::EditMessageCaption
        )
    }

    /// Whether the method acts in its `chat_id`, so the bot must be there.
    pub fn in_chat(self) -> bool {
        self.sends_message()
            || self.edits_message()
            || matches!(
                self,
                Method::DeleteMessage
                    | Method::GetChat
                    | Method::GetChatMember
                    | Method::GetChatAdministrators
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_case_insensitive() {
        assert_eq!(Method::parse("sendmessage"), Some(Method::SendMessage));
        assert_eq!(Method::parse("sendphoto"), Some(Method::SendPhoto));
        assert_eq!(Method::parse("sendAudio"), None);
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()), Some(m));
        }
    }
}
