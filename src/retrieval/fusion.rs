//! Fusing the vector search's and the full-text search's rankings into one:
//! by reciprocal rank (each list's places), or by a convex combination of
//! the two searches' scores, each normalised over the candidates (how
//! confident each search is, not only its order).

use crate::store::vectors::FoundRow;

/// The constant of reciprocal rank fusion (the usual 60: ranks far down
/// either list still count, but little).
const RRF_K: f32 = 60.0;

/// A row both searches' rankings were fused into.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Fused {
    pub row: u64,
    /// The fused score: reciprocal rank (the sum over the searches that
    /// found it), or the convex combination once [`convex`] set it.
    pub score: f32,
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
#[cfg(test)]
pub(super) fn fuse_rows(by_vector: &[FoundRow], by_text: &[FoundRow]) -> Vec<Fused> {
    fuse_lists(&[by_vector.to_vec()], &[by_text.to_vec()])
}

/// The rows of several searches (vector lists, full-text lists) fused by
/// reciprocal rank, best first: each list adds
/// `1 / (60 + rank)` to the rows it found. A row keeps its best place in
/// either kind of list and its highest cosine. Ties keep the first vector
/// list's order first.
pub(super) fn fuse_lists(by_vector: &[Vec<FoundRow>], by_text: &[Vec<FoundRow>]) -> Vec<Fused> {
    let rows = by_vector.iter().chain(by_text).map(Vec::len).sum();
    let mut fused: Vec<Fused> = Vec::with_capacity(rows);
    let mut at: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let lists = by_vector
        .iter()
        .map(|list| (true, list))
        .chain(by_text.iter().map(|list| (false, list)));
    for (vector, list) in lists {
        for (rank, found) in list.iter().enumerate() {
            let i = *at.entry(found.row).or_insert_with(|| {
                fused.push(Fused {
                    row: found.row,
                    score: 0.0,
                    similarity: None,
                    vector_rank: None,
                    text_rank: None,
                    text_score: None,
                });
                fused.len() - 1
            });
            let row = &mut fused[i];
            row.score += 1.0 / (RRF_K + rank as f32 + 1.0);
            if vector {
                row.similarity = Some(row.similarity.map_or(found.score, |s| s.max(found.score)));
                row.vector_rank = Some(row.vector_rank.map_or(rank + 1, |r| r.min(rank + 1)));
            } else if row.text_rank.is_none_or(|r| rank + 1 < r) {
                row.text_rank = Some(rank + 1);
                row.text_score = Some(found.score);
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

/// Convex combination scores of candidates given as (cosine similarity,
/// full-text score if full text found it): `weight` × the cosine min-max
/// normalised over the candidates + (1 − `weight`) × the full-text score
/// over the best one. A search that sees one clear winner gives it nearly
/// all of its share; one whose scores are all alike gives each little
/// more than another. Chosen on the quality benchmark's tune split
/// (BENCHMARKS.md, "Retrieval quality").
pub(super) fn convex(candidates: &[(f32, Option<f32>)], weight: f32) -> Vec<f32> {
    let (lo, hi) = candidates
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(cos, _)| {
            (lo.min(cos), hi.max(cos))
        });
    let best_text = candidates
        .iter()
        .filter_map(|&(_, text)| text)
        .fold(0.0f32, f32::max);
    candidates
        .iter()
        .map(|&(cos, text)| {
            let vector = if hi > lo { (cos - lo) / (hi - lo) } else { 1.0 };
            let text = match text {
                Some(text) if best_text > 0.0 => text / best_text,
                _ => 0.0,
            };
            weight * vector + (1.0 - weight) * text
        })
        .collect()
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
    fn rows_both_queries_find_rise_and_keep_their_best() {
        // The question as asked finds 5 then 1; with its conversation, 1 then 2.
        let asked = FoundRow { row: 5, score: 0.9 };
        let fused = fuse_lists(
            &[
                vec![asked, FoundRow { row: 1, score: 0.6 }],
                vec![
                    FoundRow { row: 1, score: 0.8 },
                    FoundRow { row: 2, score: 0.7 },
                ],
            ],
            &[rows(&[7, 1]), rows(&[1])],
        );
        let order: Vec<u64> = fused.iter().map(|f| f.row).collect();
        assert_eq!(order, [1, 5, 7, 2]);
        let one = fused[0];
        assert_eq!(one.similarity, Some(0.8));
        assert_eq!((one.vector_rank, one.text_rank), (Some(1), Some(1)));
        assert_eq!(one.text_score, Some(0.9));
    }

    #[test]
    fn convex_weighs_each_search_by_its_confidence() {
        // Cosines nearly tied (0.86-0.88); full text sure of the second.
        let scores = convex(&[(0.88, None), (0.87, Some(12.0)), (0.86, Some(3.0))], 0.5);
        for (got, want) in scores.iter().zip([0.5, 0.25 + 0.5, 0.125]) {
            assert!((got - want).abs() < 1e-4, "{scores:?}");
        }
        // One candidate, or all alike: full vector share each.
        assert_eq!(convex(&[(0.9, None)], 0.5), [0.5]);
        assert_eq!(convex(&[], 0.5), Vec::<f32>::new());
    }

    #[test]
    fn ties_keep_the_vector_order_first() {
        let fused = fuse_rows(&rows(&[1]), &rows(&[2]));
        assert_eq!(fused[0].score, fused[1].score);
        assert_eq!(fused.iter().map(|f| f.row).collect::<Vec<_>>(), [1, 2]);
    }
}
