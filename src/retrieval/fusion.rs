//! Fusing the vector search's and the full-text search's rankings into one.

use crate::store::vectors::FoundRow;

/// The constant of reciprocal rank fusion (the usual 60: ranks far down
/// either list still count, but little).
const RRF_K: f32 = 60.0;

/// A row both searches' rankings were fused into.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Fused {
    pub row: u64,
    /// Reciprocal-rank score: the sum over the searches that found it.
    pub rrf: f32,
    /// Cosine similarity, when the vector search found it.
    pub similarity: Option<f32>,
    /// Its place in the vector search's list, from 1.
    pub vector_rank: Option<usize>,
    /// Its place in the full-text search's list, from 1, and its score there.
    pub text_rank: Option<usize>,
    pub text_score: Option<f32>,
}

/// Both searches' rows fused by reciprocal rank, best first; ties keep
/// the vector search's order first.
pub(super) fn fuse_rows(by_vector: &[FoundRow], by_text: &[FoundRow]) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::with_capacity(by_vector.len() + by_text.len());
    let mut at: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (rank, found) in by_vector.iter().enumerate() {
        at.insert(found.row, fused.len());
        fused.push(Fused {
            row: found.row,
            rrf: 1.0 / (RRF_K + rank as f32 + 1.0),
            similarity: Some(found.score),
            vector_rank: Some(rank + 1),
            text_rank: None,
            text_score: None,
        });
    }
    for (rank, found) in by_text.iter().enumerate() {
        let rrf = 1.0 / (RRF_K + rank as f32 + 1.0);
        match at.get(&found.row) {
            Some(&i) => {
                let both = &mut fused[i];
                both.rrf += rrf;
                both.text_rank = Some(rank + 1);
                both.text_score = Some(found.score);
            }
            None => {
                at.insert(found.row, fused.len());
                fused.push(Fused {
                    row: found.row,
                    rrf,
                    similarity: None,
                    vector_rank: None,
                    text_rank: Some(rank + 1),
                    text_score: Some(found.score),
                });
            }
        }
    }
    fused.sort_by(|a, b| b.rrf.total_cmp(&a.rrf));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(list: &[u64]) -> Vec<FoundRow> {
        list.iter()
            .map(|&row| FoundRow {
                row,
                score: 1.0 - row as f32 / 10.0,
            })
            .collect()
    }

    #[test]
    fn chunks_found_by_both_searches_rise_to_the_top() {
        let fused = fuse_rows(&rows(&[1, 2, 3]), &rows(&[3, 4]));
        let order: Vec<u64> = fused.iter().map(|f| f.row).collect();
        assert_eq!(order, [3, 1, 2, 4]);
        // Only the vector search knows a similarity; full text's is read later.
        assert_eq!(fused[0].similarity, Some(0.7));
        assert_eq!(fused[3].similarity, None);
    }

    #[test]
    fn ties_keep_the_vector_order_first() {
        let fused = fuse_rows(&rows(&[1]), &rows(&[2]));
        assert_eq!(fused[0].rrf, fused[1].rrf);
        assert_eq!(fused.iter().map(|f| f.row).collect::<Vec<_>>(), [1, 2]);
    }
}
