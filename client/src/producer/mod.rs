//! The producer: sync, async, oneway, batch and ordered sends, and transactions.
