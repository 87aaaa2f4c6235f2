//! Every key-value backend against one contract ([`conformance`]), plus
//! what each promises on its own terms.

mod conformance;
mod embedded;
mod redis;
