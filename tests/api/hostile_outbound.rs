//! Secrets and outbound calls under hostile input: saved keys never sent to new addresses, bounded image downloads, backups, key pools.
