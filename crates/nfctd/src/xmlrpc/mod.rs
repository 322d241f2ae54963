//! XML-RPC codec (being written).
