//! Collection names and private spaces: each key's own documents sit in a
//! collection of its own, named by the key, which no one else's search sees.

/// The collection a document lands in when none is named.
pub const DEFAULT_COLLECTION: &str = "default";

/// Collections whose names start with this are private spaces (one per key),
/// never searched on behalf of anyone else. Shared collection names cannot
/// contain it.
pub const PRIVATE_PREFIX: &str = "~";

/// The hidden collection of variant documents: a file chunked with a
/// vector store's own sizes. No chat searches it (it is no shared name and
/// no key's space); a vector store's search names its documents.
pub const VARIANTS: &str = "~variants";

/// The private space of a key: its own documents, searched only for it.
pub fn private_space(key_id: &str) -> String {
    format!("{PRIVATE_PREFIX}{key_id}")
}

/// Whether `collection` is some key's private space.
pub fn is_private(collection: &str) -> bool {
    collection.starts_with(PRIVATE_PREFIX)
}

/// Whether `name` may name a shared collection: 1 to 64 letters, digits,
/// `-`, `_` or `.` (so never a private space's prefix).
pub fn is_valid_shared_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_spaces_are_no_shared_name() {
        let space = private_space("key-1");
        assert!(is_private(&space));
        assert!(!is_valid_shared_name(&space));
        assert!(is_valid_shared_name(DEFAULT_COLLECTION));
        assert!(!is_private(DEFAULT_COLLECTION));
        assert!(!is_valid_shared_name(&"a".repeat(65)));
    }
}
