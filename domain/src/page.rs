//! Listings a page at a time: the page every list endpoint answers (in the
//! shape of OpenAI's lists, which all of ragway's lists share) and the page
//! sizes a caller may ask for.

/// One page of a listing.
#[derive(Debug, serde::Serialize)]
pub struct Page<T> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `rows`, fetched with `LIMIT limit + 1`: the extra row
    /// only says there is more; `cursor` names the last row kept.
    pub fn new(mut rows: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Self {
        let has_more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = has_more.then(|| rows.last().map(cursor)).flatten();
        Self {
            object: "list",
            data: rows,
            has_more,
            next_cursor,
        }
    }
}

/// A page size out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`limit` must be between 1 and 100.")]
pub struct BadPageLimit;

/// The page size a listing asked for: 1 to 100, 20 when not given.
pub fn page_limit(limit: Option<i64>) -> Result<i64, BadPageLimit> {
    let limit = limit.unwrap_or(20);
    if (1..=100).contains(&limit) {
        Ok(limit)
    } else {
        Err(BadPageLimit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_limit_rows_and_says_if_there_are_more() {
        let page = Page::new(vec![1, 2, 3], 2, ToString::to_string);
        assert_eq!((page.data.len(), page.has_more), (2, true));
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::new(vec![1], 2, ToString::to_string);
        assert_eq!((last.has_more, last.next_cursor), (false, None));
        assert_eq!(page_limit(None), Ok(20));
        assert_eq!(page_limit(Some(0)), Err(BadPageLimit));
        assert_eq!(page_limit(Some(101)), Err(BadPageLimit));
    }
}
