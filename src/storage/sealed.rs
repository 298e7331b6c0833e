//! Files sealed at rest for the local disk: AES-256-GCM over 64 KiB chunks, so a file is
//! written and read as a stream with bounded memory and any byte range can be read by
//! opening only the chunks it touches. Layout: `EGX1`, an 8-byte random prefix, then
//! each chunk's ciphertext with its 16-byte tag. Chunk `i` is sealed under the nonce
//! prefix ‖ i (big-endian u32) with the associated data "is it the last chunk", and the
//! last chunk is always there (empty when the size is a multiple of 64 KiB): a file cut
//! short, chunks swapped or a byte changed all fail to open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

pub const MAGIC: &[u8; 4] = b"EGX1";
pub const HEADER: u64 = 12;
pub const CHUNK: usize = 64 * 1024;
const TAG: u64 = 16;
const SEALED_CHUNK: u64 = CHUNK as u64 + TAG;

/// The operator's key for files at rest.
#[derive(Clone)]
pub struct SealKey(Aes256Gcm);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(***)")
    }
}

impl SealKey {
    pub fn new(bytes: &[u8; 32]) -> SealKey {
        SealKey(Aes256Gcm::new(bytes.into()))
    }

    /// A new file's header.
    pub fn header() -> [u8; HEADER as usize] {
        let mut header = [0u8; HEADER as usize];
        header[..4].copy_from_slice(MAGIC);
        rand::thread_rng().fill_bytes(&mut header[4..]);
        header
    }

    fn nonce(prefix: &[u8], index: u64) -> Result<[u8; 12], SealError> {
        let index = u32::try_from(index).map_err(|_| SealError::Corrupt("too many chunks"))?;
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(prefix);
        nonce[8..].copy_from_slice(&index.to_be_bytes());
        Ok(nonce)
    }

    pub fn seal(&self, prefix: &[u8], index: u64, last: bool, chunk: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = Self::nonce(prefix, index)?;
        let aad = [u8::from(last)];
        self.0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: chunk, aad: &aad })
            .map_err(|_| SealError::Corrupt("could not seal"))
    }

    pub fn open(&self, prefix: &[u8], index: u64, last: bool, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = Self::nonce(prefix, index)?;
        let aad = [u8::from(last)];
        self.0
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| SealError::Corrupt("a chunk does not open with this key (changed, cut or another key)"))
    }
}

/// Small secrets (a destination's credentials) sealed for the database: base64 of a random
/// 12-byte nonce and the ciphertext, bound to `context` (what the secret belongs to), so
/// a sealed value copied onto another row does not open there.
impl SealKey {
    pub fn seal_value(&self, context: &str, plain: &str) -> String {
        use base64::Engine;
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM seals any short value");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    pub fn open_value(&self, context: &str, sealed: &str) -> Result<String, SealError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| SealError::Corrupt("a sealed value is not base64"))?;
        if bytes.len() < 12 + TAG as usize {
            return Err(SealError::Corrupt("a sealed value is too short"));
        }
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(&bytes[..12]),
                Payload {
                    msg: &bytes[12..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt("a sealed value does not open with this key (another key, or changed)"))?;
        String::from_utf8(plain).map_err(|_| SealError::Corrupt("a sealed value is not text"))
    }
}

/// An operator's key: `given` (base64 of 32 bytes, from the flag `flag`), else the one
/// kept in `file`, made there once (owner-only) when there is none. Several nodes must be
/// given the same key: a file made on one node is not on the others.
pub async fn load_key(given: Option<&str>, flag: &str, file: &std::path::Path) -> Result<SealKey, String> {
    use base64::Engine;
    let decode = |text: &str, from: &str| -> Result<SealKey, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| format!("{from} is not base64"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("{from} must be 32 bytes (base64 of 32 random bytes)"))?;
        Ok(SealKey::new(&bytes))
    };
    if let Some(key) = given {
        return decode(key, flag);
    }
    let io = |e: std::io::Error| format!("{}: {e}", file.display());
    match tokio::fs::read_to_string(file).await {
        Ok(text) => decode(&text, &file.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            if let Some(parent) = file.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(io)?;
            }
            let mut options = tokio::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            options.mode(0o600);
            use tokio::io::AsyncWriteExt;
            let mut out = options.open(file).await.map_err(io)?;
            out.write_all(text.as_bytes()).await.map_err(io)?;
            out.sync_all().await.map_err(io)?;
            Ok(SealKey::new(&bytes))
        }
        Err(e) => Err(io(e)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed file: {0}")]
    Corrupt(&'static str),
}

/// The plain size of a sealed file of `sealed` bytes.
pub fn plain_size(sealed: u64) -> Result<u64, SealError> {
    let body = sealed
        .checked_sub(HEADER)
        .ok_or(SealError::Corrupt("shorter than its header"))?;
    let (full, rest) = (body / SEALED_CHUNK, body % SEALED_CHUNK);
    if rest < TAG {
        return Err(SealError::Corrupt("its last chunk is missing"));
    }
    Ok(full * CHUNK as u64 + rest - TAG)
}

/// The chunks `[first, last]` that hold plain bytes `[start, end]` (inclusive), and
/// where each sealed chunk starts in the file.
pub fn chunks_of(start: u64, end: u64) -> (u64, u64) {
    (start / CHUNK as u64, end / CHUNK as u64)
}

pub fn chunk_offset(index: u64) -> u64 {
    HEADER + index * SEALED_CHUNK
}

/// The sealed length of chunk `index` of a file of `plain` bytes.
pub fn sealed_len(index: u64, plain: u64) -> u64 {
    let chunks = plain / CHUNK as u64 + 1;
    if index + 1 < chunks {
        SEALED_CHUNK
    } else {
        plain % CHUNK as u64 + TAG
    }
}

/// The index of a file's last chunk.
pub fn last_chunk(plain: u64) -> u64 {
    plain / CHUNK as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = SealKey::new(&[7; 32]);
        let sealed = key.seal_value("workspace 1", "s3cr3t");
        assert!(!sealed.contains("s3cr3t"));
        assert_ne!(
            sealed,
            key.seal_value("workspace 1", "s3cr3t"),
            "a fresh nonce each time"
        );
        assert_eq!(key.open_value("workspace 1", &sealed).unwrap(), "s3cr3t");
        assert!(key.open_value("workspace 2", &sealed).is_err(), "bound to its context");
        assert!(SealKey::new(&[8; 32]).open_value("workspace 1", &sealed).is_err());
        assert!(key.open_value("workspace 1", "bm90IHNlYWxlZA==").is_err());
    }

    fn seal_all(key: &SealKey, data: &[u8]) -> Vec<u8> {
        let header = SealKey::header();
        let mut out = header.to_vec();
        let last = last_chunk(data.len() as u64);
        for i in 0..=last {
            let from = (i as usize * CHUNK).min(data.len());
            let to = ((i as usize + 1) * CHUNK).min(data.len());
            out.extend(key.seal(&header[4..], i, i == last, &data[from..to]).unwrap());
        }
        out
    }

    fn open_all(key: &SealKey, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let plain = plain_size(sealed.len() as u64)?;
        let mut out = Vec::new();
        let last = last_chunk(plain);
        for i in 0..=last {
            let at = chunk_offset(i) as usize;
            let len = sealed_len(i, plain) as usize;
            out.extend(key.open(&sealed[4..12], i, i == last, &sealed[at..at + len])?);
        }
        Ok(out)
    }

    #[test]
    fn sizes_round_trip_and_tampering_fails() {
        let key = SealKey::new(&[7; 32]);
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let sealed = seal_all(&key, &data);
            assert_eq!(plain_size(sealed.len() as u64).unwrap(), size as u64, "{size}");
            assert_eq!(open_all(&key, &sealed).unwrap(), data, "{size}");
            // A changed byte, a cut file, another key: none opens.
            let mut changed = sealed.clone();
            let at = changed.len() - 1;
            changed[at] ^= 1;
            assert!(open_all(&key, &changed).is_err());
            if size >= CHUNK {
                let cut = &sealed[..chunk_offset(1) as usize];
                assert!(open_all(&key, cut).is_err(), "{size}: cut after the first chunk");
            }
            assert!(open_all(&SealKey::new(&[8; 32]), &sealed).is_err());
        }
    }
}
