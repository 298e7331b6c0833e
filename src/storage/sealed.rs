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
