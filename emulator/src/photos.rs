//! sendPhoto: an uploaded picture (multipart) or one sent before (by its `file_id`), with a
//! caption, checked as Telegram checks them: at most 10 MB, an image Telegram can read
//! (PNG or JPEG here) with sane dimensions, a caption of at most 1024 characters.
//! The bytes are kept so tests can look at the picture a chat received.

use std::sync::Arc;

use serde_json::Value;

use super::{
    error::ApiError,
    html, keyboard,
    limits::MAX_CAPTION_UTF16,
    params::Params,
    state::State,
    world::{Content, Person, SentPhoto, StoredMessage},
};

/// Telegram's limit for a photo sent by upload.
pub(crate) const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

pub(crate) fn send_photo(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let strictness = state.strictness;
    let chat_id = params.chat_id()?;
    if !state.chats.contains_key(&chat_id) {
        return Err(ApiError::chat_not_found());
    }
    // An upload is the `photo` part itself, or a part that `photo` names as `attach://<name>`.
    let attached =
        params.string("photo").and_then(|p| p.strip_prefix("attach://").map(str::to_owned));
    let upload =
        match &attached {
            Some(name) => Some(params.file(name).ok_or_else(|| {
                ApiError::bad_request("wrong file identifier/HTTP URL specified")
            })?),
            None => params.file("photo"),
        };
    let (bytes, known_id) = match upload {
        Some(upload) => (Arc::<[u8]>::from(upload), None),
        None => match params.string("photo").filter(|p| !p.is_empty()) {
            None => return Err(ApiError::bad_request("there is no photo in the request")),
            Some(id) => match state.files.get(&id) {
                Some(bytes) => (bytes.clone(), Some(id)),
                None if id.starts_with("http://") || id.starts_with("https://") => {
                    return Err(ApiError::bad_request("failed to get HTTP URL content"));
                }
                None => {
                    return Err(ApiError::bad_request("wrong file identifier/HTTP URL specified"));
                }
            },
        },
    };
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::bad_request("file is too big"));
    }
    let (width, height) =
        image_size(&bytes).ok_or_else(|| ApiError::bad_request("IMAGE_PROCESS_FAILED"))?;
    let (long, short) = (width.max(height), width.min(height).max(1));
    if width == 0 || height == 0 || width + height > 10_000 || long / short > 20 {
        return Err(ApiError::bad_request("PHOTO_INVALID_DIMENSIONS"));
    }
    let caption = match params.string("caption").filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => {
            let mode = params.string("parse_mode").filter(|m| !m.is_empty());
            let parsed =
                html::parse_with_mode(&raw, mode.as_deref(), strictness).map_err(|reason| {
                    ApiError::bad_request(format!("can't parse entities: {reason}"))
                })?;
            if html::utf16_len(&parsed.text) > MAX_CAPTION_UTF16 {
                return Err(ApiError::bad_request("message caption is too long"));
            }
            Some((raw, mode, parsed))
        }
    };
    let keyboard = keyboard::parse(params.json("reply_markup")?)?;
    let file_id = known_id.unwrap_or_else(|| {
        state.next_file += 1;
        format!("EMULATOR-upload-{}", state.next_file)
    });
    state.files.insert(file_id.clone(), bytes.clone());
    let photo = SentPhoto { file_id, bytes, width, height, caption };
    let mut message = StoredMessage::new(Person::bot(), Content::SentPhoto(Box::new(photo)));
    message.keyboard = keyboard;
    let chat = state.chats.get_mut(&chat_id).ok_or_else(ApiError::chat_not_found)?;
    let id = chat.store(message);
    Ok(state.message_json(chat_id, id).unwrap_or(Value::Null))
}

/// Width and height of a PNG (from its IHDR) or a baseline/progressive JPEG (from its SOF).
pub(crate) fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        if bytes.get(12..16)? != b"IHDR" {
            return None;
        }
        let be =
            |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        return Some((be(16)?, be(20)?));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut at = 2;
        while at + 9 < bytes.len() {
            if bytes[at] != 0xFF {
                return None;
            }
            let marker = bytes[at + 1];
            let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
            if matches!(marker, 0xC0..=0xC3) {
                let h = u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]);
                let w = u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]);
                return Some((u32::from(w), u32::from(h)));
            }
            at += 2 + len;
        }
    }
    None
}
