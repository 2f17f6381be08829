//! Hostile callers of the server itself: login floods and races, slow or many connections, /health without a key.
