//! Helpers shared by the fuzz targets.

use gifchat::error::AppError;

/// Splits a fuzz input into chunks, as a network delivers a body.
///
/// The input is `[n][n lengths][data]`: `n % 33` chunk lengths (0 to 255
/// bytes, used in turn, again and again) cut `data`. With `n == 0` the data
/// is one chunk, so a seed is a plain file behind one `\0` byte. Returns
/// the chunks and the data they add up to.
pub fn chunks(input: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let Some((&n, rest)) = input.split_first() else {
        return (Vec::new(), &[]);
    };
    let n = usize::from(n % 33).min(rest.len());
    let (lengths, whole) = rest.split_at(n);
    let mut chunks = Vec::new();
    let mut data = whole;
    if lengths.iter().all(|&len| len == 0) {
        // No progress to be made by cutting: one empty chunk, then the rest.
        if !lengths.is_empty() {
            chunks.push(&data[..0]);
        }
        if !data.is_empty() {
            chunks.push(data);
        }
        return (chunks, whole);
    }
    for &len in lengths.iter().cycle() {
        if data.is_empty() {
            break;
        }
        let (chunk, more) = data.split_at(usize::from(len).min(data.len()));
        chunks.push(chunk);
        data = more;
    }
    (chunks, whole)
}

/// An error a client can cause: a refusal, never a 500. The code under
/// fuzz touches no disk or database, so a 500 from it is a bug.
pub fn assert_refusal(error: &AppError) {
    assert!(
        error.status().is_client_error(),
        "a 5xx for untrusted input: {error:?}"
    );
}
