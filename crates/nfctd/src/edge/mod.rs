//! The HTTP edge every front stands on, and nothing front-specific: who sent
//! a request (`peer`), its session cookie (`cookie`), refusals the client
//! should retry, with their one `Retry-After` (`overload`), and the counting
//! of each call into the API's usage (`usage`). The fronts import it and
//! never each other.

mod cookie;
mod overload;
mod peer;
mod usage;

pub use cookie::{clear_cookie, session_id, set_cookie};
pub use overload::{retry_later, Overloaded};
pub use peer::{mark, over_tls, peer};
pub use usage::{count_routes, Call, Front};
