//! Read/flush loop. STUB.
