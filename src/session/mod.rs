//! The protocol core (sans I/O). STUB.
pub mod framer;
