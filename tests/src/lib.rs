//! Helpers shared by the end-to-end tests (network namespaces, TAP devices,
//! real Linux peers).
