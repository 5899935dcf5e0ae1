//! Configuration. STUB.
