//! Framing. STUB.
