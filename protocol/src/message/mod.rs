//! The message model and stored encoding (filled in by the message work).
