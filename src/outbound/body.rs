//! How much of another server's answer renkei reads: at most a bound, streamed, so that a
//! huge answer costs no more memory than the bound.

/// At most this much of an O-PLUX answer is read (1 MiB).
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why an answer's body was not read.
#[derive(Debug)]
pub enum ReadError {
    /// More than the bound: no answer.
    TooLarge,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// The whole body of `response`, unless it is longer than `limit` bytes (announced or
/// as it arrives: reading stops at the bound).
pub async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
