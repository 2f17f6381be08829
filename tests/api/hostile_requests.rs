//! Hostile requests: oversized chat requests and conversations, log rows and usage under floods.
