//! Sealing reader data at rest: the master key, the epoch keys it wraps, and the two
//! operations every reader record goes through.
//!
//! - **Values** are sealed with XChaCha20-Poly1305: `version (1) ++ epoch (u32) ++ nonce (24)
//!   ++ ciphertext and tag`, a fresh random nonce each time, and the record's tree name and
//!   lookup key as associated data, so a record moved to another key or tree does not open.
//! - **Lookup keys** that would name a chat or a person hold `tag(id)`: HMAC-SHA-256 of the id
//!   under the epoch's MAC key, cut to 16 bytes. Lookups stay O(1), the due index stays in
//!   time order, and without the key a tag says nothing about the id.
//!
//! The master key never touches the data directory: it comes from `TRIBUNE_KEY_FILE` (32
//! bytes, raw or hex) or from a passphrase in `TRIBUNE_PASSPHRASE_FILE` through Argon2id. It
//! only wraps the epoch keys and a canary in the keyring file (see `keyring.rs`). Key material
//! is zeroized on drop and never printed: `Debug` shows `[redacted]`.

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// The first byte of every sealed value: this layout.
const SEALED_V1: u8 = 1;
const HEADER: usize = 1 + 4 + 24;
/// Bytes a sealed value adds to its plaintext.
pub const OVERHEAD: usize = HEADER + 16;
/// What a tag is cut to: 128 bits, plenty against collisions among chats.
pub const TAG_LEN: usize = 16;

/// A 32-byte key (the master key or one half of an epoch's keys). Zeroized on drop; never
/// printed.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

impl Key {
    /// 32 fresh random bytes from the operating system.
    pub fn generate() -> Key {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random(bytes.as_mut());
        Key(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(Zeroizing::new(bytes))
    }

    /// A key file's contents: 32 raw bytes, or 64 hex digits (surrounding whitespace ignored).
    pub fn parse(raw: &[u8]) -> Option<Key> {
        if raw.len() == 32 {
            let mut bytes = Zeroizing::new([0u8; 32]);
            bytes.copy_from_slice(raw);
            return Some(Key(bytes));
        }
        let text = std::str::from_utf8(raw).ok()?.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        if text.len() != 64 || !decode_hex(text, bytes.as_mut()) {
            return None;
        }
        Some(Key(bytes))
    }

    /// 64 lowercase hex digits (what `tribune keygen` writes).
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(64));
        for b in self.0.iter() {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 15)]));
        }
        text
    }

    /// Argon2id of a passphrase with the keyring's salt and parameters.
    pub fn from_passphrase(passphrase: &[u8], salt: &[u8], kdf: &Kdf) -> Option<Key> {
        let params = argon2::Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32)).ok()?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut bytes = Zeroizing::new([0u8; 32]);
        argon.hash_password_into(passphrase, salt, bytes.as_mut()).ok()?;
        Some(Key(bytes))
    }

    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Argon2id's parameters, recorded in the keyring so that a passphrase derives the same key
/// after the defaults change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Kdf {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Kdf {
    /// OWASP's first recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const DEFAULT: Kdf = Kdf { m_kib: 19 * 1024, t: 2, p: 1 };
}

/// One epoch's keys: values are sealed with `aead`, lookup keys are tagged with `mac`.
#[derive(Clone)]
pub struct EpochKeys {
    pub id: u32,
    aead: XChaCha20Poly1305,
    mac: Hmac<Sha256>,
    /// Both keys, for wrapping into the keyring.
    raw: Zeroizing<[u8; 64]>,
}

impl std::fmt::Debug for EpochKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EpochKeys({}, [redacted])", self.id)
    }
}

impl EpochKeys {
    pub fn generate(id: u32) -> EpochKeys {
        let mut raw = Zeroizing::new([0u8; 64]);
        random(raw.as_mut());
        EpochKeys::from_raw(id, raw)
    }

    pub(super) fn from_raw(id: u32, raw: Zeroizing<[u8; 64]>) -> EpochKeys {
        let aead = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&raw[..32]));
        // HMAC takes keys of any length: this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&raw[32..]).expect("any key length");
        EpochKeys { id, aead, mac, raw }
    }

    pub(super) fn raw(&self) -> &[u8; 64] {
        &self.raw
    }

    /// The lookup tag of a chat or person id.
    pub fn tag(&self, id: i64) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(&id.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// Seals `plain` bound to `tree` and `key`.
    pub fn seal(&self, tree: &str, key: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        random(&mut nonce);
        let aad = associated(tree, key);
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: &aad })
            // Only fails past 256 GiB of plaintext.
            .expect("a record fits XChaCha20-Poly1305");
        let mut out = Vec::with_capacity(HEADER + sealed.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`EpochKeys::seal`] sealed for the same `tree` and `key`; `None` for
    /// anything else (another epoch, a changed byte, another place).
    pub fn open(&self, tree: &str, key: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < OVERHEAD || sealed[0] != SEALED_V1 || epoch_of(sealed)? != self.id {
            return None;
        }
        let nonce = XNonce::from_slice(&sealed[5..HEADER]);
        let aad = associated(tree, key);
        self.aead.decrypt(nonce, Payload { msg: &sealed[HEADER..], aad: &aad }).ok()
    }
}

/// The epoch a sealed value names in its header.
pub fn epoch_of(sealed: &[u8]) -> Option<u32> {
    sealed.get(1..5).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
}

/// Seals with the master key (the keyring's canary and wrapped epoch keys).
pub(super) fn wrap(master: &Key, what: &str, plain: &[u8]) -> Vec<u8> {
    EpochKeys::from_raw(0, master_pair(master)).seal("keyring", what.as_bytes(), plain)
}

/// Opens what [`wrap`] sealed; `None` with another master key or a changed byte.
pub(super) fn unwrap(master: &Key, what: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    EpochKeys::from_raw(0, master_pair(master)).open("keyring", what.as_bytes(), sealed)
}

fn master_pair(master: &Key) -> Zeroizing<[u8; 64]> {
    let mut raw = Zeroizing::new([0u8; 64]);
    raw[..32].copy_from_slice(master.bytes());
    raw
}

fn associated(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(tree.len() + 1 + key.len());
    aad.extend_from_slice(tree.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key);
    aad
}

/// Random bytes from the operating system. Without them no key or nonce is safe, so a
/// failure stops the process rather than sealing with a weak nonce.
pub fn random(out: &mut [u8]) {
    if let Err(e) = getrandom::fill(out) {
        panic!("the operating system gave no random bytes: {e}");
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) fn to_hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 15)]));
    }
    text
}

/// Decodes hex into `out` (exactly `2 * out.len()` digits); false for anything else.
pub(super) fn decode_hex(text: &str, out: &mut [u8]) -> bool {
    let digits = text.as_bytes();
    if digits.len() != out.len() * 2 {
        return false;
    }
    let value = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    for (i, pair) in digits.chunks(2).enumerate() {
        match (value(pair[0]), value(pair[1])) {
            (Some(hi), Some(lo)) => out[i] = (hi << 4) | lo,
            _ => {
                out.zeroize();
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_in_its_place_and_epoch() {
        let keys = EpochKeys::generate(3);
        let sealed = keys.seal("subs", b"k1", b"{\"chat_id\":1234567890}");
        assert_eq!(keys.open("subs", b"k1", &sealed).unwrap(), b"{\"chat_id\":1234567890}");
        assert_eq!(sealed.len(), OVERHEAD + 22);
        assert!(!sealed.windows(10).any(|w| w == b"1234567890"), "no plaintext");
        assert!(keys.open("subs", b"k2", &sealed).is_none(), "another key");
        assert!(keys.open("chats", b"k1", &sealed).is_none(), "another tree");
        assert!(EpochKeys::generate(3).open("subs", b"k1", &sealed).is_none(), "another key");
        for at in [0, 1, 5, HEADER, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[at] ^= 1;
            assert!(keys.open("subs", b"k1", &tampered).is_none(), "byte {at} changed");
        }
        assert!(keys.open("subs", b"k1", &sealed[..OVERHEAD - 1]).is_none(), "truncated");
        assert_ne!(keys.seal("subs", b"k1", b"x"), keys.seal("subs", b"k1", b"x"), "fresh nonce");
    }

    #[test]
    fn tags_are_stable_per_epoch_and_differ_between_epochs() {
        let (a, b) = (EpochKeys::generate(1), EpochKeys::generate(2));
        assert_eq!(a.tag(1_234_567_890), a.tag(1_234_567_890));
        assert_ne!(a.tag(1_234_567_890), a.tag(1_234_567_891));
        assert_ne!(a.tag(1_234_567_890), b.tag(1_234_567_890));
        let again = EpochKeys::from_raw(1, Zeroizing::new(*a.raw()));
        assert_eq!(again.tag(-100_123), a.tag(-100_123));
    }

    #[test]
    fn key_files_read_raw_or_hex_and_never_print() {
        let key = Key::generate();
        let hex = key.to_hex();
        let parsed = Key::parse(format!("  {}\n", hex.as_str()).as_bytes()).unwrap();
        assert_eq!(parsed.bytes(), key.bytes());
        assert_eq!(Key::parse(key.bytes()).unwrap().bytes(), key.bytes());
        assert!(Key::parse(b"short").is_none());
        assert!(Key::parse(&[b'g'; 64]).is_none());
        let shown = format!("{key:?} {:?}", EpochKeys::generate(1));
        assert!(!shown.contains(&hex[..8]), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn the_master_key_wraps_and_another_does_not_unwrap() {
        let (right, wrong) = (Key::generate(), Key::generate());
        let wrapped = wrap(&right, "canary", b"tribune");
        assert_eq!(unwrap(&right, "canary", &wrapped).unwrap(), b"tribune");
        assert!(unwrap(&wrong, "canary", &wrapped).is_none());
        assert!(unwrap(&right, "epoch 1", &wrapped).is_none());
    }

    #[test]
    fn a_passphrase_derives_the_same_key_with_the_same_salt() {
        let kdf = Kdf { m_kib: 64, t: 1, p: 1 };
        let a = Key::from_passphrase(b"correct horse", b"0123456789abcdef", &kdf).unwrap();
        let b = Key::from_passphrase(b"correct horse", b"0123456789abcdef", &kdf).unwrap();
        let c = Key::from_passphrase(b"correct horse", b"fedcba9876543210", &kdf).unwrap();
        assert_eq!(a.bytes(), b.bytes());
        assert_ne!(a.bytes(), c.bytes());
    }
}
