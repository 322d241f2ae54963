//! `GET /events`: Server-Sent Events for live pages. One ticker counts the
//! table once a second for every listener and publishes the latest counts on
//! a watch channel, so a client that stops reading only misses ticks: it
//! holds no queue and costs the others nothing.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
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

/// The shared ticker, started by the first listener.
#[derive(Debug, Clone)]
pub struct Feed {
    service: Service,
    latest: Arc<Mutex<Option<Latest>>>,
}

impl Feed {
    pub fn new(service: Service) -> Feed {
        Feed {
            service,
            latest: Arc::new(Mutex::new(None)),
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
        (status = 401, body = ErrorBody)))]
pub async fn stream(
    State(api): State<JsonApi>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, JsonError> {
    let sid = session_id(&headers)?;
    api.service.whoami(&sid)?;
    let receiver = api.events.subscribe();
    let service = api.service.clone();
    let events = stream::unfold(Some(receiver), move |state| {
        let service = service.clone();
        let sid = sid.clone();
        async move {
            let mut receiver = state?;
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
            Some((Ok(event), Some(receiver)))
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
