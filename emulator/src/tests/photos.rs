//! sendPhoto through teloxide: multipart uploads, file_id reuse, Telegram's limits.

use teloxide::{
    ApiError as TgApiError, RequestError,
    prelude::*,
    types::{InputFile, MediaKind, MessageKind, ParseMode},
};

use super::{super::*, bot};

/// A grey PNG of `width` × `height`.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&vec![128; (width * height) as usize]).unwrap();
    writer.finish().unwrap();
    out
}

fn api_error(result: Result<Message, RequestError>) -> String {
    match result {
        Err(RequestError::Api(TgApiError::Unknown(description))) => description,
        Err(RequestError::Api(other)) => other.to_string(),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_uploaded_photo_is_kept_with_its_caption_and_can_be_sent_again() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let user = emulator.user(42, "Ann", None);
    let picture = png(40, 30);
    let sent = bot
        .send_photo(ChatId(42), InputFile::memory(picture.clone()).file_name("chart.png"))
        .caption("<b>Subscribers</b> &amp; sends")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let MessageKind::Common(common) = &sent.kind else { panic!("{sent:?}") };
    let MediaKind::Photo(photo) = &common.media_kind else { panic!("{sent:?}") };
    assert_eq!(photo.caption.as_deref(), Some("Subscribers & sends"));
    let largest = photo.photo.last().unwrap();
    assert_eq!((largest.width, largest.height), (40, 30));

    let again = bot.send_photo(ChatId(42), InputFile::file_id(largest.file.id.clone())).await;
    assert!(again.is_ok(), "{again:?}");
    let got = user.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].photo.as_deref(), Some(picture.as_slice()));
    assert_eq!(got[0].plain_text(), "Subscribers & sends");
    assert_eq!(got[1].photo, got[0].photo);
    assert_eq!(emulator.requests("sendPhoto"), 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn photos_outside_telegrams_limits_are_refused() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let user = emulator.user(42, "Ann", None);
    let upload = |bytes: Vec<u8>| InputFile::memory(bytes).file_name("x.png");

    let long = "a".repeat(1025);
    let error = api_error(bot.send_photo(ChatId(42), upload(png(4, 4))).caption(long).await);
    assert!(error.contains("message caption is too long"), "{error}");
    let fits = bot.send_photo(ChatId(42), upload(png(4, 4))).caption("é".repeat(1024)).await;
    assert!(fits.is_ok(), "{fits:?}");

    // Over 10 MB: a valid PNG padded with an ancillary chunk.
    let mut big = png(4, 4);
    let end = big.len() - 12;
    let padding = vec![0u8; 10 * 1024 * 1024];
    let mut chunk = (padding.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"teXt");
    chunk.extend_from_slice(&padding);
    chunk.extend_from_slice(&[0; 4]);
    big.splice(end..end, chunk);
    let error = api_error(bot.send_photo(ChatId(42), upload(big)).await);
    assert!(error.contains("file is too big"), "{error}");

    let error = api_error(bot.send_photo(ChatId(42), upload(b"not a picture".to_vec())).await);
    assert!(error.contains("IMAGE_PROCESS_FAILED"), "{error}");
    let error = api_error(bot.send_photo(ChatId(42), upload(png(2000, 20))).await);
    assert!(error.contains("PHOTO_INVALID_DIMENSIONS"), "{error}");
    let error = api_error(bot.send_photo(ChatId(42), InputFile::file_id("nope".into())).await);
    assert!(error.contains("wrong file identifier"), "{error}");

    user.block_bot();
    let blocked = bot.send_photo(ChatId(42), upload(png(4, 4))).await;
    assert!(matches!(blocked, Err(RequestError::Api(TgApiError::BotBlocked))), "{blocked:?}");
    assert_eq!(user.messages().len(), 1, "only the photo within the limits arrived");
    emulator.shutdown().await;
}
