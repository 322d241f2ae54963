//! `GET /events`: Server-Sent Events for live pages. One ticker counts the
//! table once a second for every listener and publishes the latest counts on
//! a watch channel, so a client that stops reading only misses ticks: it
//! holds no queue and costs the others nothing. A stream holds its
//! connection for as long as the session lives, so streams are capped per
//! session, per user and in all ([`Streams`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

use super::error::{ErrorBody, JsonError};
use super::session::session_id;
use super::JsonApi;
use crate::service::{Service, TableCounts};

/// How often the table is counted while anyone listens.
const TICK: Duration = Duration::from_secs(1);

/// One `counts` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Counts {
    #[serde(flatten)]
    pub counts: TableCounts,
    /// Unix milliseconds of the count.
    pub at_ms: u64,
}

/// The latest counts, `None` before the first tick.
type Latest = watch::Sender<Option<Arc<Counts>>>;

/// Event streams one session may hold at once (a page open in a few tabs).
pub const PER_SESSION: usize = 4;
/// Event streams one user may hold over all their sessions: one account
/// logging in again and again cannot take every stream.
pub const PER_USER: usize = 8;

/// Open streams by session and by user.
#[derive(Debug, Default)]
struct Holders {
    sessions: HashMap<String, usize>,
    users: HashMap<String, usize>,
}

/// Counts one more under `key`, or one less (dropping a key at zero).
fn count(map: &mut HashMap<String, usize>, key: &str, up: bool) {
    if up {
        *map.entry(key.to_string()).or_insert(0) += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The open streams, per session, per user and in all.
#[derive(Debug)]
pub struct Streams {
    max: usize,
    open: Mutex<Holders>,
}

/// One open stream, counted out when the stream ends (or its client goes).
#[derive(Debug)]
struct Open {
    streams: Arc<Streams>,
    sid: String,
    user: String,
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut open = self.streams.lock();
        count(&mut open.sessions, &self.sid, false);
        count(&mut open.users, &self.user, false);
    }
}

impl Streams {
    /// At most `max` streams in all, of which viewers may hold three
    /// quarters (and [`PER_SESSION`] per session, [`PER_USER`] per user).
    pub fn new(max: usize) -> Arc<Streams> {
        Arc::new(Streams {
            max: max.max(1),
            open: Mutex::new(Holders::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Holders> {
        // Plain counts, each change one step: a poisoned map is still right.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open(self: &Arc<Self>, sid: &str, user: &str, admin: bool) -> Result<Open, JsonError> {
        let mut open = self.lock();
        let total: usize = open.sessions.values().sum();
        let mine = open.sessions.get(sid).copied().unwrap_or(0);
        let theirs = open.users.get(user).copied().unwrap_or(0);
        if mine >= PER_SESSION {
            return Err(JsonError::TooManyStreams(format!(
                "this session has {PER_SESSION} event streams open already, the most one session may hold"
            )));
        }
        if theirs >= PER_USER {
            return Err(JsonError::TooManyStreams(format!(
                "this user's sessions have {PER_USER} event streams open already, the most one user may hold"
            )));
        }
        if total >= self.max {
            return Err(JsonError::TooManyStreams(format!(
                "{} event streams are open, the most the daemon serves at once (a quarter of --max-connections)",
                self.max
            )));
        }
        // The last quarter is kept for admins: viewers, however many
        // accounts, cannot take the streams an administrator's page needs.
        let for_viewers = self.max - self.max / 4;
        if !admin && total >= for_viewers {
            return Err(JsonError::TooManyStreams(format!(
                "{for_viewers} event streams are open, the most viewers may hold (the rest are kept for admins)"
            )));
        }
        count(&mut open.sessions, sid, true);
        count(&mut open.users, user, true);
        Ok(Open {
            streams: Arc::clone(self),
            sid: sid.to_string(),
            user: user.to_string(),
        })
    }
}

/// The shared ticker, started by the first listener.
#[derive(Debug, Clone)]
pub struct Feed {
    service: Service,
    latest: Arc<Mutex<Option<Latest>>>,
    streams: Arc<Streams>,
}

impl Feed {
    pub fn new(service: Service, streams: Arc<Streams>) -> Feed {
        Feed {
            service,
            latest: Arc::new(Mutex::new(None)),
            streams,
        }
    }

    fn subscribe(&self) -> watch::Receiver<Option<Arc<Counts>>> {
        // Only this function touches the slot; a poisoned one still holds a sender or none.
        let mut slot = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = slot.as_ref() {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        *slot = Some(sender.clone());
        let service = self.service.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(TICK);
            loop {
                ticks.tick().await;
                if sender.receiver_count() == 0 {
                    continue; // nobody listens: count nothing
                }
                let service = service.clone();
                let counted = tokio::task::spawn_blocking(move || service.table_counts()).await;
                if let Ok(counts) = counted {
                    let at_ms = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    sender.send_replace(Some(Arc::new(Counts { counts, at_ms })));
                }
            }
        });
        receiver
    }
}

/// Live table counts: an event `counts` (data: `Counts`) about once a second,
/// and `expired` when the session ends, after which the stream closes.
#[utoipa::path(get, path = "/events", tag = "table",
    responses((status = 200, description = "text/event-stream of `counts` events", body = Counts),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn stream(
    State(api): State<JsonApi>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, JsonError> {
    let sid = session_id(&headers)?;
    let who = api.service.whoami(&sid)?;
    let open = api.events.streams.open(&sid, &who.user, who.is_admin())?;
    let receiver = api.events.subscribe();
    let service = api.service.clone();
    let events = stream::unfold(Some((receiver, open)), move |state| {
        let service = service.clone();
        let sid = sid.clone();
        async move {
            let (mut receiver, open) = state?;
            if receiver.changed().await.is_err() {
                return None;
            }
            if !service.is_open(&sid) {
                return Some((Ok(Event::default().event("expired").data("{}")), None));
            }
            let latest = receiver.borrow_and_update().clone();
            let event = match latest.map(|c| Event::default().event("counts").json_data(&*c)) {
                Some(Ok(event)) => event,
                _ => Event::default().comment("no counts yet"),
            };
            Some((Ok(event), Some((receiver, open))))
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_session_per_user_and_in_all_and_counted_out() {
        let streams = Streams::new(12);
        let a: Vec<Open> = (0..PER_SESSION)
            .map(|_| streams.open("a", "ann", true).unwrap())
            .collect();
        assert!(matches!(
            streams.open("a", "ann", true),
            Err(JsonError::TooManyStreams(_))
        ));
        // Ann's other sessions: up to PER_USER in all.
        let a2: Vec<Open> = (0..PER_USER - PER_SESSION)
            .map(|_| streams.open("a2", "ann", true).unwrap())
            .collect();
        assert!(
            streams.open("a3", "ann", true).is_err(),
            "eight for one user"
        );
        let b: Vec<Open> = (0..PER_SESSION)
            .map(|_| streams.open("b", "bob", true).unwrap())
            .collect();
        assert!(streams.open("c", "cy", true).is_err(), "twelve in all");
        drop(b);
        let _c = streams.open("c", "cy", true).unwrap();
        drop(a);
        drop(a2);
        assert!(!streams.lock().sessions.contains_key("a"));
        assert!(!streams.lock().users.contains_key("ann"));
        let _a = streams.open("a", "ann", true).unwrap();
    }

    #[test]
    fn the_last_quarter_is_kept_for_admins() {
        let streams = Streams::new(8);
        let viewers: Vec<Open> = (0..6)
            .map(|i| {
                streams
                    .open(&format!("v{i}"), &format!("viewer{i}"), false)
                    .unwrap()
            })
            .collect();
        assert!(
            streams.open("v9", "viewer9", false).is_err(),
            "six of eight"
        );
        let _admin1 = streams.open("x", "admin", true).unwrap();
        let _admin2 = streams.open("x", "admin", true).unwrap();
        assert!(streams.open("y", "root", true).is_err(), "eight in all");
        drop(viewers);
        let _viewer = streams.open("v9", "viewer9", false).unwrap();
    }
}
