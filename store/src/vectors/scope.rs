//! What a search may see: a [`Scope`]'s filter, and the collection of every
//! row of each fragment, read once and kept, to tell without reading them
//! which rows found without the filter are in scope.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use lancedb::arrow::arrow_array::{Array, RecordBatch, UInt64Array};
use lancedb::query::QueryBase;

use super::rows::{lance_dataset, string_column};
use super::tables::Opened;
use super::upkeep::Upkeep;
use super::{FoundRow, Scope, ScopeShare, VectorStore, PRIVATE_PREFIX};

impl Scope<'_> {
    /// The LanceDB filter for this scope.
    fn filter(&self) -> String {
        let shared = match self.collections {
            Some([]) => "FALSE".to_string(),
            Some(names) => {
                let list: Vec<String> = names.iter().map(|c| quote(c)).collect();
                format!("collection IN ({})", list.join(", "))
            }
            None => format!(
                "collection NOT LIKE {}",
                quote(&format!("{PRIVATE_PREFIX}%"))
            ),
        };
        match self.documents {
            Some([]) => return "FALSE".to_string(),
            Some(ids) => {
                let list: Vec<String> = ids.iter().map(|id| quote(id)).collect();
                return format!("document_id IN ({})", list.join(", "));
            }
            None => {}
        }
        match self.private_space {
            Some(space) => format!("({shared}) OR collection = {}", quote(space)),
            None => shared,
        }
    }

    /// Whether a chunk of `collection` is in scope (what [`Self::filter`] keeps).
    pub(super) fn admits(&self, collection: &str) -> bool {
        // A document list was checked by whoever made it; the filter kept to it.
        if self.documents.is_some() || self.private_space == Some(collection) {
            return true;
        }
        match self.collections {
            Some(names) => names.iter().any(|name| name == collection),
            None => !ragway_domain::collections::is_private(collection),
        }
    }

    /// `query` with the scope's filter, unless the scope keeps everything.
    pub(super) fn apply<Q: QueryBase>(&self, query: Q) -> Q {
        if self.everything && self.documents.is_none() {
            query
        } else {
            query.only_if(self.filter())
        }
    }
}

/// The collection of every row of one fragment. A fragment's rows never
/// change once written (a delete only hides them; a compaction writes new
/// fragments under new numbers), so this is read once and kept while the
/// fragment lives.
pub(super) struct FragmentCollections {
    /// The distinct collections, each once.
    names: Vec<Arc<str>>,
    /// Rows of each of `names` (deleted ones too: a delete only hides them).
    counts: Vec<usize>,
    /// By a row's place in the fragment: its index into `names`
    /// (`u32::MAX` where a deleted row was).
    rows: Vec<u32>,
}

impl FragmentCollections {
    /// From a scan of one fragment's `collection` with `_rowaddr`.
    fn new(batch: &RecordBatch) -> anyhow::Result<Arc<Self>> {
        let names = string_column(batch, "collection")?;
        let addresses = batch
            .column_by_name("_rowaddr")
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| anyhow::anyhow!("the scan lacks _rowaddr"))?;
        let mut collections = Self {
            names: Vec::new(),
            counts: Vec::new(),
            rows: Vec::new(),
        };
        let mut index: HashMap<&str, u32> = HashMap::new();
        for row in 0..batch.num_rows() {
            let offset = (addresses.value(row) & 0xffff_ffff) as usize;
            let name = names.value(row);
            let at = *index.entry(name).or_insert_with(|| {
                collections.names.push(Arc::from(name));
                collections.counts.push(0);
                (collections.names.len() - 1) as u32
            });
            collections.counts[at as usize] += 1;
            if collections.rows.len() <= offset {
                collections.rows.resize(offset + 1, u32::MAX);
            }
            collections.rows[offset] = at;
        }
        Ok(Arc::new(collections))
    }

    fn collection(&self, offset: usize) -> Option<Arc<str>> {
        let name = *self.rows.get(offset)?;
        self.names.get(name as usize).cloned()
    }
}

impl VectorStore {
    /// Whether each of `rows` (found in table `name` a moment ago by a search
    /// without the scope's filter) is within `scope`, known without reading
    /// the rows: each fragment's collections are read once and kept. Cheaper
    /// than LanceDB's filter when few stored rows are out of scope: search
    /// without it, a little deeper, and drop those. `None` when that cannot
    /// be told (a compaction removed a row's fragment since, or the table's
    /// row ids are not addresses): search with the filter.
    pub async fn in_scope(
        &self,
        name: &str,
        rows: &[FoundRow],
        scope: Scope<'_>,
    ) -> anyhow::Result<Option<Vec<bool>>> {
        let Some(Opened { table, upkeep, .. }) = self.opened(name).await? else {
            return Ok(None);
        };
        let dataset = lance_dataset(&table).await?;
        let rows = rows.iter().map(|found| found.row);
        let Some(collections) = Self::collections_of(&upkeep, &dataset, rows, true).await? else {
            return Ok(None);
        };
        Self::forget_removed_fragments(&upkeep, &dataset);
        let admitted = collections.iter().map(|c| scope.admits(c)).collect();
        Ok(Some(admitted))
    }

    /// The collection of each of `rows` (row addresses in `dataset`), by
    /// each fragment's collections (read now where not yet known, if
    /// `read`). `None` when that cannot be told: the table's row ids are not
    /// addresses, a compaction removed a row's fragment since it was found,
    /// or (unless `read`) a fragment's collections are not known yet.
    pub(super) async fn collections_of(
        upkeep: &Upkeep,
        dataset: &lance::Dataset,
        rows: impl Iterator<Item = u64>,
        read: bool,
    ) -> anyhow::Result<Option<Vec<Arc<str>>>> {
        if dataset.manifest().uses_stable_row_ids() {
            return Ok(None);
        }
        let mut found = Vec::with_capacity(rows.size_hint().0);
        let mut known: Option<(u64, Arc<FragmentCollections>)> = None;
        for row in rows {
            let (fragment, offset) = (row >> 32, (row & 0xffff_ffff) as usize);
            let collections = match &known {
                Some((id, collections)) if *id == fragment => collections.clone(),
                _ => {
                    let collections = if read {
                        Self::fragment_collections(upkeep, dataset, fragment).await?
                    } else {
                        Self::known_fragment_collections(upkeep, fragment)
                    };
                    let Some(collections) = collections else {
                        return Ok(None);
                    };
                    known = Some((fragment, collections.clone()));
                    collections
                }
            };
            match collections.collection(offset) {
                Some(collection) => found.push(collection),
                None => return Ok(None),
            }
        }
        Ok(Some(found))
    }

    /// How many of table `name`'s rows are outside `scope`, of how many
    /// (rows deleted since their fragment was written count too), by each
    /// fragment's collections as [`Self::in_scope`] knows them (read now
    /// where not yet known). A search that is to be screened need go only
    /// that much deeper to find as many rows in scope as a filtered one.
    /// `None` when it cannot be told (see [`Self::in_scope`]).
    pub async fn scope_share(
        &self,
        name: &str,
        scope: Scope<'_>,
    ) -> anyhow::Result<Option<ScopeShare>> {
        let Some(Opened { table, upkeep, .. }) = self.opened(name).await? else {
            return Ok(Some(ScopeShare::default()));
        };
        let dataset = lance_dataset(&table).await?;
        if dataset.manifest().uses_stable_row_ids() {
            return Ok(None);
        }
        let mut share = ScopeShare::default();
        for fragment in dataset.fragments().iter() {
            let Some(collections) =
                Self::fragment_collections(&upkeep, &dataset, fragment.id).await?
            else {
                return Ok(None);
            };
            for (name, count) in collections.names.iter().zip(&collections.counts) {
                share.rows += count;
                if !scope.admits(name) {
                    share.out += count;
                }
            }
        }
        Ok(Some(share))
    }

    /// Fragment `fragment`'s collections, read now unless known already;
    /// `None` if the dataset has no such fragment.
    async fn fragment_collections(
        upkeep: &Upkeep,
        dataset: &lance::Dataset,
        fragment: u64,
    ) -> anyhow::Result<Option<Arc<FragmentCollections>>> {
        let Some(file) = dataset.get_fragment(fragment as usize) else {
            return Ok(None);
        };
        let cell = upkeep
            .collections
            .lock()
            .expect("collections lock")
            .entry(fragment)
            .or_default()
            .clone();
        let collections = cell
            .get_or_try_init(|| async {
                let mut scan = dataset.scan();
                scan.with_fragments(vec![file.metadata().clone()])
                    .project(&["collection"])?
                    .with_row_address();
                FragmentCollections::new(&scan.try_into_batch().await?)
            })
            .await?;
        Ok(Some(collections.clone()))
    }

    /// Fragment `fragment`'s collections if they were read already.
    fn known_fragment_collections(
        upkeep: &Upkeep,
        fragment: u64,
    ) -> Option<Arc<FragmentCollections>> {
        let kept = upkeep.collections.lock().expect("collections lock");
        kept.get(&fragment)?.get().cloned()
    }

    /// Forget the collections of fragments a compaction has removed.
    fn forget_removed_fragments(upkeep: &Upkeep, dataset: &lance::Dataset) {
        let mut kept = upkeep.collections.lock().expect("collections lock");
        if kept.len() > dataset.fragments().len() {
            let live: HashSet<u64> = dataset.fragments().iter().map(|f| f.id).collect();
            kept.retain(|id, _| live.contains(id));
        }
    }

    /// Read the collections of the fragments not known yet (see
    /// [`Self::in_scope`]): when a table is first opened and after each
    /// compaction, so that no screened search pays for a scan of a whole
    /// fragment (tens of milliseconds at 100k rows; 4 bytes a row are kept).
    pub(super) async fn warm_fragment_collections(opened: &Opened) -> anyhow::Result<()> {
        let dataset = lance_dataset(&opened.table).await?;
        if dataset.manifest().uses_stable_row_ids() {
            return Ok(());
        }
        Self::forget_removed_fragments(&opened.upkeep, &dataset);
        for fragment in dataset.fragments().iter() {
            Self::fragment_collections(&opened.upkeep, &dataset, fragment.id).await?;
        }
        Ok(())
    }

    /// Fragments of table `name` whose collections are known (see
    /// [`Self::in_scope`]).
    #[cfg(test)]
    pub(super) async fn fragments_screened(&self, name: &str) -> usize {
        let Ok(Some(opened)) = self.opened(name).await else {
            return 0;
        };
        let cells = opened.upkeep.collections.lock().expect("collections lock");
        cells.values().filter(|cell| cell.initialized()).count()
    }
}

/// A SQL string literal for LanceDB filters.
pub(super) fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(quote("it's"), "'it''s'");
    }
}
