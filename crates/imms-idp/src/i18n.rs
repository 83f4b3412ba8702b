//! Strings in English and Spanish.
