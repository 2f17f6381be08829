//! The chunks either side of a found one, for the passage around it
//! ("small to big": match a small chunk, give the model its surroundings).
//!
//! A document's chunks are written together and in order, so a chunk's
//! neighbours usually sit next to it in its fragment: read by row address
//! (Lance's take, as cheap as reading the found rows themselves), then
//! checked by chunk id. A neighbour that is not where it is expected (the
//! fragment ends, another document's chunks are written in between, a
//! compaction moved rows since the search) is simply left out.

use lancedb::arrow::arrow_array::{Array, UInt64Array};

use super::rows::{lance_dataset, string_column};
use super::VectorStore;

/// The chunk a search found, whose neighbours are wanted.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// Its row address, from the search.
    pub row: u64,
    /// Its chunk id (`{document}:{generation}:{ordinal}`).
    pub chunk_id: &'a str,
}

/// A neighbour read back: its chunk id and text, and how far from the
/// found chunk it sits (−1: the one before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub offset: i32,
    pub chunk_id: String,
    pub text: String,
}

/// The id of the chunk `offset` places from `chunk_id` in its document.
fn shifted_id(chunk_id: &str, offset: i32) -> Option<String> {
    let (prefix, ordinal) = chunk_id.rsplit_once(':')?;
    let ordinal = ordinal.parse::<i32>().ok()?.checked_add(offset)?;
    (ordinal >= 0).then(|| format!("{prefix}:{ordinal}"))
}

impl VectorStore {
    /// For each of `found`, the chunks up to `window` places before and after
    /// it in its document that could be read, nearest first on each side.
    /// Empty lists when the table's row ids are not addresses or the read
    /// fails: the found chunks stand alone then.
    pub async fn neighbours(
        &self,
        name: &str,
        found: &[Found<'_>],
        window: usize,
    ) -> anyhow::Result<Vec<Vec<Neighbour>>> {
        let mut out = vec![Vec::new(); found.len()];
        if window == 0 || found.is_empty() {
            return Ok(out);
        }
        let Some(opened) = self.opened(name).await? else {
            return Ok(out);
        };
        let dataset = lance_dataset(&opened.table).await?;
        if dataset.manifest().uses_stable_row_ids() {
            return Ok(out);
        }
        let lengths: std::collections::HashMap<u64, u64> = dataset
            .fragments()
            .iter()
            .filter_map(|f| Some((f.id, f.physical_rows? as u64)))
            .collect();
        let window = i32::try_from(window).unwrap_or(i32::MAX);
        // (which found chunk, offset, address), each address once.
        let mut wanted: Vec<(usize, i32, u64)> = Vec::new();
        for (i, chunk) in found.iter().enumerate() {
            let (fragment, place) = (chunk.row >> 32, chunk.row & 0xffff_ffff);
            let Some(&length) = lengths.get(&fragment) else {
                continue;
            };
            for offset in (-window..=window).filter(|&o| o != 0) {
                let Some(at) = place.checked_add_signed(i64::from(offset)) else {
                    continue;
                };
                if at < length {
                    wanted.push((i, offset, (fragment << 32) | at));
                }
            }
        }
        let mut addresses: Vec<u64> = wanted.iter().map(|&(_, _, a)| a).collect();
        addresses.sort_unstable();
        addresses.dedup();
        if addresses.is_empty() {
            return Ok(out);
        }
        let projection = dataset.schema().project(&["id", "text"])?;
        let batch = match dataset
            .take_builder(&addresses, projection)
            .map(|take| take.with_row_address(true))
        {
            Ok(take) => match take.execute().await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::debug!(error = %err, "reading neighbouring chunks failed");
                    return Ok(out);
                }
            },
            Err(err) => {
                tracing::debug!(error = %err, "reading neighbouring chunks failed");
                return Ok(out);
            }
        };
        let ids = string_column(&batch, "id")?;
        let texts = string_column(&batch, "text")?;
        let Some(read) = batch
            .column_by_name("_rowaddr") // Lance's row address column
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        else {
            return Ok(out);
        };
        let by_address: std::collections::HashMap<u64, usize> = (0..batch.num_rows())
            .filter(|&row| read.is_valid(row))
            .map(|row| (read.value(row), row))
            .collect();
        for (i, offset, address) in wanted {
            let Some(&row) = by_address.get(&address) else {
                continue;
            };
            let Some(expected) = shifted_id(found[i].chunk_id, offset) else {
                continue;
            };
            if ids.value(row) == expected {
                out[i].push(Neighbour {
                    offset,
                    chunk_id: expected,
                    text: texts.value(row).to_string(),
                });
            }
        }
        for list in &mut out {
            list.sort_by_key(|n| (n.offset.abs(), n.offset));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::shifted_id;

    #[test]
    fn neighbour_ids_shift_the_ordinal_only() {
        assert_eq!(shifted_id("doc:gen:4", -1).as_deref(), Some("doc:gen:3"));
        assert_eq!(shifted_id("doc:gen:4", 2).as_deref(), Some("doc:gen:6"));
        assert_eq!(shifted_id("doc:gen:0", -1), None);
        assert_eq!(shifted_id("nonsense", 1), None);
    }
}
