//! The fake's embedding model: deterministic vectors that are meaningful
//! enough for retrieval tests (texts that share words are near), in the
//! width each model name asks for.

use super::DIM;

/// Words (lowercased ASCII runs), CJK characters and CJK bigrams.
pub(super) fn features(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut previous_cjk: Option<char> = None;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
            previous_cjk = None;
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if ('\u{4e00}'..='\u{9fff}').contains(&c) {
            out.push(c.to_string());
            if let Some(p) = previous_cjk {
                out.push(format!("{p}{c}"));
            }
            previous_cjk = Some(c);
        } else {
            previous_cjk = None;
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The fake embedding of `text`: a normalised hashed bag of features.
pub fn embed(text: &str) -> Vec<f32> {
    embed_width(text, DIM)
}

/// Vector width for an embedding model: models named `…-small` answer
/// [`SMALL_DIM`] wide vectors (to test a change of model), `…-1024` ones
/// 1024 (bge-large's width, for benchmarks), the rest [`DIM`].
pub fn width_for(model: &str) -> usize {
    if model.ends_with("-small") {
        SMALL_DIM
    } else if model.ends_with("-1024") {
        1024
    } else {
        DIM
    }
}

/// The width of `…-small` embedding models.
pub const SMALL_DIM: usize = 64;

/// FNV-1a: stable across runs and platforms.
pub(super) fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

pub(super) fn embed_width(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0f32; dim];
    for feature in features(text) {
        let h = fnv(&feature);
        let sign = if (h >> 63) == 0 { 1.0 } else { -1.0 };
        v[(h % dim as u64) as usize] += sign;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
    } else {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
