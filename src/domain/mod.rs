//! Request data parsed into domain types at the edge: once a value has one of these
//! types, it has passed its rules.

mod email;
mod password;
mod user_name;

pub use email::Email;
pub use password::{Password, PASSWORD_MAX_BYTES};
pub use user_name::UserName;
