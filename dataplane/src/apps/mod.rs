//! The built-in applications: [`Echo`] and [`Synthetic`].

mod echo;
mod synthetic;

pub use echo::Echo;
pub use synthetic::{Synthetic, SyntheticConn};
