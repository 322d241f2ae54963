//! The query engine (being written).
