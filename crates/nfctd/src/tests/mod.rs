//! In-process tests of what the daemon serves, over the test bed of
//! `crate::testing` (a table of rows, a fake kernel): one file per area,
//! without namespace or root. Most take a few milliseconds; those with a
//! password file about 0.2 s, the time the password-checking threads take
//! to warm up. The real kernel's side is the integration tests'
//! (crates/nfctd/tests).

mod act;
mod faults;
mod hosts;
mod json_api;
mod kernel_errors;
mod loading;
mod login;
mod overload;
mod pressure;
mod stopped;
mod view;
